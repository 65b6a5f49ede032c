package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(1_790_000_000_000L);

    private LogConfig config() {
        return new LogConfig().directory(dir).name("ret").rollCycle(TestRollCycles.TEST_SECONDLY).clock(clock)
                .blockSize(4L << 20);
    }

    private long segments() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".cq4")).count();
        }
    }

    /**
     * A crash between deleting segments and trimming the cut list leaves a cut whose whole dead
     * zone is gone; the next open must recognise it as obsolete instead of hiding the history.
     */
    @Test
    void aCutWhoseSegmentsWereDeletedIsForgottenEvenAfterACrashMidRetention() throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            for (int i = 1; i <= 10; i++) {
                log.appendZero(1, i * 4096L, 4096, 0).get(10, TimeUnit.SECONDS);
            }
            clock.advance(1000);
            for (int i = 11; i <= 20; i++) {
                log.appendZero(1, i * 4096L, 4096, 0).get(10, TimeUnit.SECONDS);
            }
        }
        RecordLocator.flipByte(RecordLocator.find(dir, 20), 30);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            for (int i = 20; i <= 25; i++) {
                log.appendZero(2, i * 4096L, 4096, 0).get(10, TimeUnit.SECONDS); // lsn 20-25, same segment
            }
            for (int seg = 0; seg < 2; seg++) {
                clock.advance(1000);
                for (int i = 0; i < 10; i++) {
                    log.appendZero(2, i * 4096L, 4096, 0).get(10, TimeUnit.SECONDS); // 26-35, 36-45
                }
            }
            assertThat(log.deleteSegmentsBelow(12)).isEqualTo(1); // the cut's segment stays: the cut is kept, its resume saved
            Path saved = dir.resolve("cuts.saved");
            Files.copy(dir.resolve(CutList.FILE_NAME), saved);
            assertThat(log.deleteSegmentsBelow(40)).isEqualTo(2);
            // The crash: the trimmed cut list never reached the disk.
            Files.copy(saved, dir.resolve(CutList.FILE_NAME), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.firstLsn()).isEqualTo(36);
            assertThat(log.recovery().lastLsn()).isEqualTo(45);
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.appendZero(3, 0, 4096, 0).get(10, TimeUnit.SECONDS)).isEqualTo(46);
        }
    }

    @Test
    void deletesOnlyWholeSegmentsBelowTheSafeLsnAndReadersAboveKeepWorking() throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            // Five segments of ten records: lsn 1-10, 11-20, ..., 41-50.
            for (int seg = 0; seg < 5; seg++) {
                for (int i = 0; i < 10; i++) {
                    long offset = (seg * 10L + i) * 4096;
                    log.appendWrite(1, offset, payloadFor(offset, 4096), 0).get(10, TimeUnit.SECONDS);
                }
                clock.advance(1000);
            }
            assertThat(segments()).isEqualTo(5);
            LogReader above = log.reader(35);
            LogRecord rec = new LogRecord();
            assertThat(above.next(rec)).isTrue();
            assertThat(rec.lsn()).isEqualTo(35);

            assertThat(log.deleteSegmentsBelow(10)).as("lsn 10 is still needed").isZero();
            assertThat(log.deleteSegmentsBelow(35)).isEqualTo(3);
            assertThat(segments()).isEqualTo(2);
            assertThat(log.firstLsn()).isEqualTo(31);
            assertThatThrownBy(() -> log.reader(30)).isInstanceOf(LogException.class);

            for (long lsn = 36; lsn <= 50; lsn++) {
                assertThat(above.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
            }
            assertThat(above.next(rec)).isFalse();
            long next = log.appendWrite(1, 0, payloadFor(0, 4096), 0).get(10, TimeUnit.SECONDS);
            assertThat(next).isEqualTo(51);
            assertThat(above.next(rec)).isTrue();
            assertThat(rec.lsn()).isEqualTo(51);
            above.close();

            try (LogReader from31 = log.reader(31)) {
                assertThat(from31.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(31);
            }
            // lsn 51 went into a sixth segment (the clock moved after the fifth). The segment being
            // appended to is never deleted, whatever the caller says.
            assertThat(segments()).isEqualTo(3);
            assertThat(log.deleteSegmentsBelow(1000)).isEqualTo(2);
            assertThat(segments()).isEqualTo(1);
            assertThat(log.firstLsn()).isEqualTo(51);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().fromLsn()).isEqualTo(51);
            assertThat(log.recovery().lastLsn()).isEqualTo(51);
            assertThat(log.firstLsn()).isEqualTo(51);
            assertThat(log.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS)).isEqualTo(52);
        }
    }
}
