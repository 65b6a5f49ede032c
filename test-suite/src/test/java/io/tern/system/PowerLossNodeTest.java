package io.tern.system;

import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
 * A real node in {@code sync} mode whose whole home — log, links, checkpoint and the backing
 * file — lives on the power-loss file system. Round after round it takes a random write load over
 * NBD, is killed with SIGKILL at a random (seeded) moment, and loses everything it did not fsync.
 * Restarted on what survived, with no operator help, it must serve every acknowledged write with
 * its acknowledged content (or that of a later write to the same block), every write never
 * answered whole or not at all, and zeros where nothing was written. Some rounds lose power
 * once more while the node starts (before, during or after its recovery), and the last one after
 * a clean stop.
 *
 * <p>The node's output goes to {@code logs/} beside the mount, where a cut cannot reach it; the
 * file system's state and log stay under target/ when the test fails.
 */
class PowerLossNodeTest {
    static final String RES = "r0";
    static final long SIZE = 32L << 20;
    private static final int ROUNDS = 20;
    private static final int WINDOW = 16;

    @TempDir
    Path dir;

    @Test
    void syncModeKeepsEveryAcknowledgedWrite() throws Exception {
        PowerLossFs.requireAvailable();
        Random random = new Random(Seeds.seed("PowerLossNodeTest"));
        BlockHistory history = new BlockHistory(SIZE, random.nextLong());
        try (PowerLossFs fs = PowerLossFs.mount(dir.resolve("state"), dir.resolve("mnt"), dir.resolve("powerloss-fs.log"))) {
            TernNode node = Replication.init(fs.root().resolve("a"), dir.resolve("logs"), "a", "c1");
            Replication.tern(node, "create", RES, "--size", Long.toString(SIZE), "--durability", "sync",
                    "--log-segment", "1M");
            fs.cut(); // tern create said the resource exists: it does after a power cut at once
            try (node) {
                for (int round = 1; round <= ROUNDS; round++) {
                    if (random.nextInt(4) == 0) {
                        // Power goes again while the node starts: before, during or after its recovery.
                        long after = random.nextInt(2500);
                        node.startWithoutWaiting();
                        runFor(after);
                        node.kill();
                        fs.cut();
                        System.err.printf("round %d: power cut %d ms into a start (%s)%n", round, after,
                                node.saidReady() ? "after it said READY" : "before it said READY");
                    }
                    node.start();
                    BlockHistory.Check check = checkRecovered(node, history, "after cut " + (round - 1));
                    long killAfterMs = random.nextInt(1200);
                    try (HistoryWriter writer = new HistoryWriter(NbdClient.connect(node.nbdAddress(), RES), history,
                            random.nextLong(), WINDOW, round).start()) {
                        writer.awaitAcked(1, Duration.ofSeconds(60));
                        runFor(killAfterMs);
                        node.kill();
                    }
                    String lost = fs.stats();
                    fs.cut(); // the power goes: everything not fsync'd is gone
                    System.err.printf("round %d: recovered: %s; then %d ms of writes, %d acknowledged in all; cut %s%n",
                            round, check, killAfterMs, history.acked(), lost);
                }
                node.start();
                checkRecovered(node, history, "after cut " + ROUNDS);
                node.stop(); // a clean shutdown, then the power goes
                fs.cut();
                node.start();
                BlockHistory.Check last = checkRecovered(node, history, "after a clean stop and a cut");
                node.stop();
                System.err.println("power-loss node test: " + last + "; " + history.acked() + " acknowledged writes of "
                        + history.sent() + " sent survived " + ROUNDS + " power cuts");
            }
            assertThat(history.errors()).as("writes the node refused").isEmpty();
            assertThat(history.acked()).isGreaterThan(ROUNDS * 20L);
        }
    }

    /**
     * Lets what runs go on for {@code millis}: the random moment of a power cut is itself the
     * point, there is no state to wait for.
     */
    static void runFor(long millis) {
        long end = System.nanoTime() + millis * 1_000_000;
        await().atMost(Duration.ofMillis(millis + 5_000)).pollInterval(Duration.ofMillis(1))
                .until(() -> System.nanoTime() >= end);
    }

    /**
     * The node came back by itself as the resource's primary on a healthy disk, its log holds a
     * record for every acknowledged write, and its export holds what the history says.
     */
    static BlockHistory.Check checkRecovered(TernNode node, BlockHistory history, String when) throws Exception {
        Map<String, Object> r = node.resource(RES);
        assertThat(r.get("role")).as("%s: role (see %s)", when, node.logs()).isEqualTo("Primary");
        assertThat(r.get("disk")).as("%s: disk, error %s (see %s)", when, r.get("error"), node.logs()).isEqualTo("UpToDate");
        assertThat(number(r, "logged_lsn")).as("%s: logged lsn covers one record per acknowledged write", when)
                .isGreaterThanOrEqualTo(history.acked());
        assertThat(history.errors()).as("%s: writes the node refused", when).isEmpty();
        try (NbdClient client = NbdClient.connect(node.nbdAddress(), RES)) {
            return history.verify(client, when);
        }
    }
}
