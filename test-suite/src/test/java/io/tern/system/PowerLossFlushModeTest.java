package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.FlushHistory;
import io.tern.harness.FlushingHistoryWriter;
import io.tern.harness.PowerLossFs;
import io.tern.harness.Replication;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * A primary in {@code flush} durability mode whose whole home — log, links, checkpoint, activity
 * log and backing file — lives on the power-loss file system, and its secondary on a normal disk.
 * Round after round the primary takes a random write load over NBD with FLUSH requests (and some
 * FUA writes) among the writes, is killed with SIGKILL and loses everything it did not fsync.
 *
 * <p>Flush mode applies a write to the backing store before its record is synced, and the
 * checkpointer syncs the store on its own timer: a cut just after a checkpoint leaves a store that
 * holds writes the log lost. That is the case this test is about, so every round waits under load
 * for the primary to report a new checkpoint; half of them are cut less than 25 ms later (before
 * the log's next sync is likely done: FLUSH and FUA come only a few times a second), the others at
 * a random moment up to 1 s later. The node checkpoints every 5 s (its default), so a round waits up
 * to 5 s for its checkpoint.
 *
 * <p>Restarted, the primary must
 * <ol>
 *   <li>hold every write acknowledged before a FLUSH that completed (or a FUA write acknowledged),
 *       or a later write to that block; blocks written since may hold any write sent to them since,
 *       never bytes that were never written there ({@link FlushHistory});
 *   <li>have a log whose replay is its image: once the secondary has replayed all of it, both
 *       exports are equal (the activity log's extents were re-logged from the store);
 *   <li>have recovered a log that reaches at least as far as the secondary received before the
 *       cut: a secondary never holds a record the primary lost.
 * </ol>
 */
@Isolated("asks for a number of FLUSHes completed between power cuts")
class PowerLossFlushModeTest {
    private static final String RES = "r0";
    private static final long SIZE = 16L << 20;
    private static final int ROUNDS = 20;
    private static final int WINDOW = 2;
    /**
     * About one FLUSH per this many writes, and one FUA write per this many: each syncs the log,
     * which closes the window a cut after a checkpoint aims at, so they come a few times a second.
     */
    private static final int FLUSH_EVERY = 250;
    private static final int FUA_EVERY = 250;
    /** A cut less than this many milliseconds after a checkpoint is aimed at the store holding what the log lost. */
    private static final int AIMED_MS = 25;
    /** Longest wait for the checkpointer to move the checkpoint (every 5 s while there are writes). */
    private static final Duration CHECKPOINT_WAIT = Duration.ofSeconds(20);

    @TempDir(factory = io.tern.testing.TargetTempDirFactory.class)
    Path dir;

    @Test
    void flushModeKeepsFlushedWritesAndItsLogDescribesItsImageAfterPowerCuts() throws Exception {
        PowerLossFs.requireAvailable();
        Random random = new Random(Seeds.seed("PowerLossFlushModeTest"));
        FlushHistory history = new FlushHistory(SIZE, random.nextLong());
        try (PowerLossFs fs = PowerLossFs.mount(dir.resolve("state"), dir.resolve("mnt"), dir.resolve("powerloss-fs.log"));
             TernNode a = Replication.init(fs.root().resolve("a"), dir.resolve("a-logs"), "a", "c1");
             TernNode b = Replication.init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", Long.toString(SIZE), "--durability", "flush", "--log-segment", "1M");
            assertThat(a.resource(RES).get("durability")).isEqualTo("flush");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            int aimed = 0;
            String lastCut = "";
            for (int round = 1; round <= ROUNDS; round++) {
                String before = round == 1 ? "before the first round" : "after cut " + (round - 1) + lastCut;
                awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                long caughtUpAt = number(a.resource(RES), "logged_lsn");
                assertThat(exportDigest(b, RES, dir)).as("%s: the secondary's image, having replayed the primary's "
                        + "whole log (lsn %d), equals the primary's image (see %s and %s)", before, caughtUpAt, a.logs(),
                        b.logs()).isEqualTo(exportDigest(a, RES, dir));

                // Cut just after the checkpoint (the store synced, the log's sync not yet run), or later:
                // by then the log was synced and the checkpointer has retired old segments.
                boolean aim = random.nextBoolean();
                long delayMs = aim ? random.nextInt(AIMED_MS) : AIMED_MS + random.nextInt(1000);
                long checkpointAtStart = number(a.resource(RES), "checkpoint_lsn");
                long checkpointAtCut;
                try (FlushingHistoryWriter writer = new FlushingHistoryWriter(NbdClient.connect(a.nbdAddress(), RES),
                        history, random.nextLong(), WINDOW, FLUSH_EVERY, FUA_EVERY, round).start()) {
                    writer.awaitAcked(1, Duration.ofSeconds(60));
                    checkpointAtCut = awaitCheckpointPast(a, checkpointAtStart, writer, round);
                    PowerLossNodeTest.runFor(delayMs);
                    a.kill();
                }
                long receivedAtCut = received(b);
                String lost = fs.stats();
                fs.cut(); // the primary's power goes: everything it did not fsync is gone
                aimed += aim ? 1 : 0;
                String when = "after cut " + round + " (" + delayMs + " ms after a checkpoint)";

                a.start(); // nothing writes to it until the checks below are done
                long logged = number(a.resource(RES), "logged_lsn");
                long receivedNow = received(b);
                assertThat(logged).as("%s: the primary's recovered log (lsn %d) reaches what the secondary received "
                        + "before the restart (lsn %d) and after it (lsn %d); see %s and %s", when, logged, receivedAtCut,
                        receivedNow, a.logs(), b.logs()).isGreaterThanOrEqualTo(Math.max(receivedAtCut, receivedNow));
                FlushHistory.Check check = checkRecovered(a, history, when);
                lastCut = " (the secondary had received lsn " + receivedAtCut + " before it; the primary's log "
                        + "came back at lsn " + logged + ", its re-logged extents included)";
                System.err.printf("round %d: %s; checkpoint lsn %d -> %d, secondary had received %d, primary recovered "
                        + "lsn %d; %d acknowledged in all; cut %s; %s%n", round, when, checkpointAtStart, checkpointAtCut,
                        receivedAtCut, logged, history.acked(), lost, check);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
            assertThat(exportDigest(b, RES, dir)).as("after cut %d%s: the secondary's image, having replayed the "
                    + "primary's whole log, equals the primary's image", ROUNDS, lastCut).isEqualTo(exportDigest(a, RES, dir));
            assertThat(history.errors()).as("writes and flushes the primary refused").isEmpty();
            assertThat(history.acked()).isGreaterThan(ROUNDS * 20L);
            assertThat(history.flushes()).as("FLUSHes completed").isGreaterThan(ROUNDS);
            assertThat(aimed).as("rounds cut right after a checkpoint").isPositive();
            a.stop(); // a clean stop before the file system goes, so no killed process still holds files there
            System.err.println("power-loss flush-mode test: " + history.acked() + " acknowledged writes of "
                    + history.sent() + " sent, " + history.flushes() + " FLUSHes, " + ROUNDS + " power cuts of the "
                    + "primary (" + aimed + " right after a checkpoint); images equal");
        }
    }

    /**
     * Waits, under load, until the checkpointer moved the primary's checkpoint past
     * {@code from}: it has just synced the backing store, which may now hold writes the log has
     * not synced. Returns the new checkpoint.
     */
    private static long awaitCheckpointPast(TernNode a, long from, FlushingHistoryWriter writer, int round) {
        long[] now = {from};
        await("round " + round + ": the primary's checkpoint moves past lsn " + from).atMost(CHECKPOINT_WAIT)
                .pollInterval(Duration.ofMillis(2)).pollDelay(Duration.ZERO).until(() -> {
                    now[0] = number(a.resource(RES), "checkpoint_lsn");
                    return now[0] > from || writer.stopped();
                });
        assertThat(writer.stopped()).as("round %d: the writer stopped before the checkpoint moved (errors %s; see %s)",
                round, writer.errors(), a.logs()).isFalse();
        return now[0];
    }

    /** The secondary's durable received position (its own log's end). */
    private static long received(TernNode b) throws Exception {
        return number(b.resource(RES), "logged_lsn");
    }

    /**
     * The primary came back by itself as the resource's primary on a healthy disk, in flush mode,
     * and its export holds what the history allows.
     */
    private static FlushHistory.Check checkRecovered(TernNode a, FlushHistory history, String when) throws Exception {
        Map<String, Object> r = a.resource(RES);
        assertThat(r.get("role")).as("%s: role (see %s)", when, a.logs()).isEqualTo("Primary");
        assertThat(r.get("disk")).as("%s: disk, error %s (see %s)", when, r.get("error"), a.logs()).isEqualTo("UpToDate");
        assertThat(history.errors()).as("%s: writes and flushes the primary refused", when).isEmpty();
        try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
            return history.verify(client, when);
        }
    }
}
