package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;
import io.tern.harness.HistoryWriter;
import io.tern.harness.PowerLossFs;
import io.tern.harness.Replication;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A primary whose home lives on the power-loss file system and its secondary on a normal disk.
 * Round after round the primary takes a random write load over NBD, is killed with SIGKILL at a
 * random (seeded) moment and loses everything it did not fsync (in some rounds once more while it
 * starts again). Restarted, it must still hold every acknowledged write, and its recovered log
 * must reach at least as far as the secondary received: a secondary never holds a record the
 * primary lost, since only durable records are shipped. The secondary, never restarted,
 * reconnects by itself and its consistent point never goes back; before every round and at the
 * end, once it has caught up, both exports are equal.
 */
class PowerLossReplicationTest {
    private static final String RES = PowerLossNodeTest.RES;
    private static final long SIZE = PowerLossNodeTest.SIZE;
    private static final int ROUNDS = 20;
    private static final int WINDOW = 16;

    @TempDir
    Path dir;

    @Test
    void primaryKeepsEveryAcknowledgedWriteAndNeverLagsItsSecondary() throws Exception {
        PowerLossFs.requireAvailable();
        Random random = new Random(Seeds.seed("PowerLossReplicationTest"));
        BlockHistory history = new BlockHistory(SIZE, random.nextLong());
        try (PowerLossFs fs = PowerLossFs.mount(dir.resolve("state"), dir.resolve("mnt"), dir.resolve("powerloss-fs.log"));
             TernNode a = Replication.init(fs.root().resolve("a"), dir.resolve("a-logs"), "a", "c1");
             TernNode b = Replication.init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", Long.toString(SIZE), "--durability", "sync", "--log-segment", "1M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            long consistentAt = 0;
            for (int round = 1; round <= ROUNDS; round++) {
                // The secondary is connected and streaming when the load starts, so records are on
                // their way to it when the power goes.
                awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                String primary = exportDigest(a, RES, dir);
                assertThat(exportDigest(b, RES, dir)).as("before round %d: the secondary's image, caught up at lsn %d",
                        round, number(a.resource(RES), "logged_lsn")).isEqualTo(primary);
                long killAfterMs = random.nextInt(1200);
                try (HistoryWriter writer = new HistoryWriter(NbdClient.connect(a.nbdAddress(), RES), history,
                        random.nextLong(), WINDOW, round).start()) {
                    writer.awaitAcked(1, Duration.ofSeconds(60));
                    PowerLossNodeTest.runFor(killAfterMs);
                    a.kill();
                }
                consistentAt = checkedPosition(b, consistentAt, round);
                long receivedAtCut = received(b);
                String lost = fs.stats();
                fs.cut(); // the primary's power goes: everything it did not fsync is gone
                String when = "after cut " + round;
                if (random.nextInt(4) == 0) {
                    // Power goes again while the primary starts and the secondary reconnects to it.
                    long after = random.nextInt(2500);
                    a.startWithoutWaiting();
                    PowerLossNodeTest.runFor(after);
                    a.kill();
                    fs.cut();
                    when += " and a cut " + after + " ms into a start (" + (a.saidReady() ? "after" : "before")
                            + " it said READY)";
                }

                a.start(); // nothing writes to it until the checks below are done
                long logged = number(a.resource(RES), "logged_lsn");
                long receivedNow = received(b);
                assertThat(logged).as("%s: the primary's recovered log (lsn %d) reaches what the secondary received "
                        + "before the restart (lsn %d) and after it (lsn %d); see %s and %s", when, logged, receivedAtCut,
                        receivedNow, a.logs(), b.logs()).isGreaterThanOrEqualTo(Math.max(receivedAtCut, receivedNow));
                BlockHistory.Check check = PowerLossNodeTest.checkRecovered(a, history, when);
                consistentAt = checkedPosition(b, consistentAt, round);
                System.err.printf("round %d: %d ms of writes, %d acknowledged in all; %s: %s; primary recovered lsn %d, "
                        + "secondary had received %d; %s%n", round, killAfterMs, history.acked(), when, lost, logged,
                        receivedAtCut, check);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
            assertThat(checkedPosition(b, consistentAt, ROUNDS + 1)).isEqualTo(number(a.resource(RES), "logged_lsn"));
            assertThat(exportDigest(b, RES, dir)).as("the secondary's image at the end").isEqualTo(exportDigest(a, RES, dir));
            assertThat(peers(a.resource(RES))).singleElement()
                    .satisfies(p -> assertThat(p.get("state")).isEqualTo("Replicating"));
            assertThat(history.errors()).as("writes the primary refused").isEmpty();
            assertThat(history.acked()).isGreaterThan(ROUNDS * 20L);
            System.err.println("power-loss replication test: " + history.acked() + " acknowledged writes of "
                    + history.sent() + " sent survived " + ROUNDS + " power cuts of the primary; images equal");
        }
    }

    /** The secondary's durable received position (its own log's end). */
    private static long received(TernNode b) throws Exception {
        return number(b.resource(RES), "logged_lsn");
    }

    /** b's replay position if its disk is consistent now, checked never to go back; else the last one. */
    private static long checkedPosition(TernNode b, long before, int round) throws Exception {
        Map<String, Object> r = b.resource(RES);
        String disk = (String) r.get("disk");
        assertThat(disk).as("round %d: b's disk, error %s (see %s)", round, r.get("error"), b.logs())
                .isIn("UpToDate", "Outdated", "Inconsistent");
        if (disk.equals("Inconsistent")) {
            return before;
        }
        long lsn = number(r, "replayed_lsn");
        assertThat(lsn).as("round %d: the consistent point never goes back", round).isGreaterThanOrEqualTo(before);
        return lsn;
    }
}
