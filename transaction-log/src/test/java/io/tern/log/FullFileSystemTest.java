package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.testing.SmallFileSystem;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log on a real file system that fills up (a small tmpfs): records go into segments prepared
 * ahead, and when no further segment fits above the reserve, an append that needs one is refused
 * cleanly, takes no LSN, and the log stays healthy.
 */
class FullFileSystemTest {
    private static final long RESERVE = 2 << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    private static LogConfig config(Path logDir) {
        return new LogConfig().directory(logDir).name("full").reserve(RESERVE).segmentSize(1L << 20);
    }

    @Test
    void appendsPastTheReserveAreRefusedCleanlyAndResumeOnceSpaceIsFreed() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("small"), 32 << 20)) {
            Path logDir = fs.path().resolve("log");
            long acked = 0;
            Path filler = fs.fillLeaving(6 << 20);
            try (TransactionLog log = TransactionLog.open(config(logDir))) {
                LogFullException refused = null;
                while (refused == null) {
                    try {
                        long lsn = log.appendWrite(1, acked * 4096, payloadFor(acked * 4096, 4096), 0).get(10, TimeUnit.SECONDS);
                        assertThat(lsn).as("LSNs stay dense").isEqualTo(acked + 1);
                        acked = lsn;
                    } catch (ExecutionException e) {
                        assertThat(e.getCause()).isInstanceOf(LogFullException.class);
                        refused = (LogFullException) e.getCause();
                    }
                    assertThat(acked).as("the reserve stops the log well before 6 MiB of records").isLessThan(1536);
                }
                assertThat(refused).hasMessageContaining("no space for the log in").hasMessageContaining("reserve");
                assertThat(acked).as("the space above the reserve was used").isGreaterThan(256);
                assertThat(fs.usable()).as("the reserve is left").isGreaterThan(RESERVE / 2);
                assertThat(log.failure()).as("the log is healthy").isNull();

                Files.delete(filler); // the operator frees space
                assertThat(log.appendWrite(1, 0, payloadFor(0, 4096), 0).get(10, TimeUnit.SECONDS)).isEqualTo(acked + 1);
                acked++;
            }
            // Every acknowledged record is there after a reopen, intact and in order.
            try (TransactionLog log = TransactionLog.open(config(logDir));
                 LogReader r = log.reader(1)) {
                LogRecord rec = new LogRecord();
                long n = 0;
                while (r.next(rec)) {
                    n++;
                    assertThat(rec.lsn()).isEqualTo(n);
                    assertThat(LogTestSupport.payloadMatches(rec)).isTrue();
                }
                assertThat(n).isEqualTo(acked);
            }
        }
    }
}
