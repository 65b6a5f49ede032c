package io.tern.log;

import static io.tern.log.LogTestSupport.payloadMatches;
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

import io.tern.testing.ChildJvm;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A child JVM appends with many writers and prints each acked LSN; it is killed with SIGKILL at
 * random (seeded) moments. After each kill the log is reopened: every acked LSN must be there,
 * intact, with the offset that was acked for it, and the LSNs must be dense.
 */
class CrashTest {
    private static final int ROUNDS = 20;
    private static final int WRITERS = 16;

    @TempDir
    Path dir;

    @Test
    void noAckedAppendIsLostWhenTheWriterIsKilled() throws Exception {
        Random random = new Random(Seeds.seed("CrashTest"));
        Path logDir = dir.resolve("log");
        Map<Long, Long> acked = new HashMap<>(); // lsn -> offset, over all rounds
        long totalCut = 0;
        for (int round = 1; round <= ROUNDS; round++) {
            Map<Long, Long> roundAcks = new ConcurrentHashMap<>();
            AtomicLong opened = new AtomicLong(-1);
            Process child = ChildJvm.start(CrashWriter.class, dir.resolve("child-stderr.log"),
                    logDir.toString(), Integer.toString(WRITERS), Integer.toString(round));
            Thread pump = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        String[] f = line.split(" ");
                        if (f[0].equals("ACK")) {
                            roundAcks.put(Long.parseLong(f[1]), Long.parseLong(f[2]));
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
            assertThat(child.isAlive()).as("child of round %d is running (see child-stderr.log)", round).isTrue();
            // Kill at a random moment after the first acks: 0..400 ms later.
            long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(random.nextInt(400));
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1)).until(() -> System.nanoTime() >= killAt);
            child.destroyForcibly(); // SIGKILL on Linux
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            pump.join(10_000);
            assertThat(opened.get()).as("the child's recovery kept every earlier ack").isGreaterThanOrEqualTo(maxKey(acked));
            acked.putAll(roundAcks);

            try (TransactionLog log = TransactionLog.open(new LogConfig().directory(logDir).name("crash"))) {
                RecoveryReport r = log.recovery();
                totalCut += r.cutRecords();
                assertThat(r.lastLsn()).as("round %d: %s", round, r).isGreaterThanOrEqualTo(maxKey(acked));
                LogRecord rec = new LogRecord();
                long expected = 1;
                try (LogReader reader = log.reader(1)) {
                    while (reader.next(rec)) {
                        assertThat(rec.lsn()).isEqualTo(expected);
                        Long offset = acked.get(rec.lsn());
                        if (offset != null) {
                            assertThat(rec.offset()).as("offset of acked lsn %d", rec.lsn()).isEqualTo(offset);
                        }
                        assertThat(payloadMatches(rec)).as("payload of lsn %d", rec.lsn()).isTrue();
                        expected++;
                    }
                }
                assertThat(expected - 1).isEqualTo(r.lastLsn());
                System.err.printf("round %d: %d acked this round, log 1..%d, %s%n", round, roundAcks.size(), r.lastLsn(), r);
            }
        }
        assertThat(acked.size()).isGreaterThan(ROUNDS * 10);
        System.err.println("crash test: " + acked.size() + " acked appends survived " + ROUNDS + " kills; " + totalCut + " unacked records cut");
    }

    private static long maxKey(Map<Long, Long> m) {
        return m.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
    }
}
