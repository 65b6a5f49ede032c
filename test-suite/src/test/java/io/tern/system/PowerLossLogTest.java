package io.tern.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.tern.harness.PowerLossFs;
import io.tern.log.LogConfig;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.RecoveryReport;
import io.tern.log.TransactionLog;
import io.tern.testing.ChildJvm;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log alone under power loss: a child JVM appends from many threads into a log on the
 * power-loss file system and prints every acknowledged LSN; at a random (seeded) moment it is
 * killed with SIGKILL and the file system drops everything that was not fsync'd, as a power cut
 * would. After every cut the log must open (a torn tail is cut, never taken for corruption), hold
 * every acknowledged record intact with the offset acknowledged for it, with dense LSNs, and the
 * next round continues on top of it.
 */
class PowerLossLogTest {
    private static final int ROUNDS = 20;
    private static final int WRITERS = 8;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void everyAcknowledgedAppendSurvivesAPowerCut() throws Exception {
        PowerLossFs.requireAvailable();
        Random random = new Random(Seeds.seed("PowerLossLogTest"));
        Map<Long, long[]> acked = new HashMap<>(); // lsn -> {offset, size}, over all rounds
        long cutRecords = 0;
        try (PowerLossFs fs = PowerLossFs.mount(dir.resolve("state"), dir.resolve("mnt"), dir.resolve("powerloss-fs.log"))) {
            Path logDir = fs.root().resolve("log");
            for (int round = 1; round <= ROUNDS; round++) {
                Map<Long, long[]> roundAcks = new ConcurrentHashMap<>();
                AtomicLong opened = new AtomicLong(-1);
                Process child = ChildJvm.start(PowerLossLogWriter.class, dir.resolve("child-stderr.log"),
                        logDir.toString(), Integer.toString(WRITERS), Integer.toString(round));
                Thread pump = new Thread(() -> {
                    try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                            StandardCharsets.US_ASCII))) {
                        String line;
                        while ((line = in.readLine()) != null) {
                            String[] f = line.split(" ");
                            if (f[0].equals("ACK")) {
                                roundAcks.put(Long.parseLong(f[1]), new long[] {Long.parseLong(f[2]), Long.parseLong(f[3])});
                            } else if (f[0].equals("OPEN")) {
                                opened.set(Long.parseLong(f[1]));
                            }
                        }
                    } catch (java.io.IOException e) {
                        // the child died; whatever was read counts
                    }
                });
                pump.start();
                await().atMost(Duration.ofSeconds(60)).until(() -> !roundAcks.isEmpty() || !child.isAlive());
                assertThat(child.isAlive()).as("writer of round %d is running (see child-stderr.log)", round).isTrue();
                long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50 + random.nextInt(600));
                await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1))
                        .until(() -> System.nanoTime() >= killAt);
                child.destroyForcibly();
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
                pump.join(10_000);
                fs.cut(); // the power goes: everything not fsync'd is gone
                assertThat(opened.get()).as("round %d: the writer's recovery kept every earlier ack", round)
                        .isGreaterThanOrEqualTo(maxKey(acked));
                acked.putAll(roundAcks);

                try (TransactionLog log = TransactionLog.open(new LogConfig().directory(logDir).name("powerloss")
                        .segmentSize(PowerLossLogWriter.SEGMENT).reserve(0))) {
                    RecoveryReport r = log.recovery();
                    cutRecords += r.cutRecords();
                    assertThat(r.lastLsn()).as("round %d: %s", round, r).isGreaterThanOrEqualTo(maxKey(acked));
                    LogRecord rec = new LogRecord();
                    long expected = log.firstLsn();
                    try (LogReader reader = log.reader(expected)) {
                        while (reader.next(rec)) {
                            assertThat(rec.lsn()).isEqualTo(expected);
                            long[] a = acked.get(rec.lsn());
                            if (a != null) {
                                assertThat(rec.offset()).as("offset of acked lsn %d", rec.lsn()).isEqualTo(a[0]);
                                assertThat(rec.length()).as("size of acked lsn %d", rec.lsn()).isEqualTo((int) a[1]);
                            }
                            assertThat(rec.payload()).as("payload of lsn %d", rec.lsn())
                                    .isEqualTo(PowerLossLogWriter.payload(rec.offset(), rec.length()));
                            expected++;
                        }
                    }
                    assertThat(expected - 1).isEqualTo(r.lastLsn());
                    assertThat(log.firstLsn()).as("nothing acked was below the log's start").isEqualTo(1);
                    System.err.printf("round %d: %d acked this round, log 1..%d, %s%n", round, roundAcks.size(),
                            r.lastLsn(), r);
                }
            }
        }
        assertThat(acked.size()).isGreaterThan(ROUNDS * 10);
        System.err.println("power-loss log test: " + acked.size() + " acked appends survived " + ROUNDS
                + " power cuts; " + cutRecords + " unacknowledged records of torn batches cut");
    }

    private static long maxKey(Map<Long, long[]> m) {
        return m.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    }
}
