package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.LogFiles;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A primary whose log comes back shorter than what its secondary already received: its last
 * records torn while it was down (as writes lost mid-batch leave them), so that recovery cuts
 * the tail; or gone without a trace (as a disk that loses acknowledged writes leaves them), which
 * the primary learns from the members' received positions. Either way it starts a new epoch
 * there, so the LSNs past its log's end are never reused within one version; the
 * secondary's history forked from it, both report the split brain, the secondary replays nothing
 * across the fork, a restart changes nothing, and {@code tern invalidate} on the secondary
 * converges the images.
 */
class RecoveryCutForkTest {
    private static final String RES = "r0";

    @TempDir
    Path dir;

    @Test
    void aLogCutOnRecoveryBelowWhatTheSecondaryHoldsIsAFork() throws Exception {
        forkAfterLoss(true);
    }

    @Test
    void aLogThatLostItsTailWithoutATraceBelowWhatTheSecondaryHoldsIsAFork() throws Exception {
        forkAfterLoss(false);
    }

    /** {@code tear}: the lost records leave a torn one behind; else they vanish and the log just ends early. */
    private void forkAfterLoss(boolean tear) throws Exception {
        Random random = new Random(Seeds.seed("RecoveryCutForkTest." + tear));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            Path logDir = a.home().resolve("resources/" + RES + "/log");
            Path checkpoint = a.home().resolve("resources/" + RES + "/checkpoint");
            long last = 0;
            long applied = Long.MAX_VALUE;
            // Writes that b receives and a has not checkpointed yet (the checkpointer runs every 5 s).
            for (int attempt = 1; attempt <= 5 && applied >= last; attempt++) {
                if (attempt > 1) {
                    a.start();
                }
                awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
                write(a, random, 40);
                long logged = number(a.resource(RES), "logged_lsn");
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
                        .until(() -> number(b.resource(RES), "logged_lsn") == logged);
                a.kill();
                last = logged;
                applied = LogFiles.checkpointLsn(checkpoint);
            }
            assertThat(applied).as("a's checkpoint lies below its log's end").isLessThan(last);
            long cut = Math.max(applied + 1, last - 10);
            long lost = last - cut + 1;
            if (tear) {
                LogFiles.tearAt(logDir, cut); // a's records from `cut` on are torn or gone; b holds them
            } else {
                LogFiles.loseFrom(logDir, cut); // a's log just ends before `cut`; b holds more
            }
            String bImage = exportDigest(b, RES, dir);
            long bReplayed = number(b.resource(RES), "replayed_lsn");

            a.start();
            // Torn: recovery cuts and starts the term at once; gone without a trace: as soon as b's state says it
            // holds more of epoch 1 than a's log.
            await("a new term after the loss").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> number(a.resource(RES), "epoch") == 2);
            Map<String, Object> ra = a.resource(RES);
            assertThat(ra.get("role")).isEqualTo("Primary");
            assertThat(number(ra, "chain_head_start_lsn")).as("it starts where the log was cut").isEqualTo(cut);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    Boolean.TRUE.equals(a.resource(RES).get("split_brain"))
                            && Boolean.TRUE.equals(b.resource(RES).get("split_brain")));
            assertThat(peers(a.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo("b");
                assertThat(p.get("state")).isEqualTo("SplitBrain");
                assertThat(number(p, "fork_lsn")).isEqualTo(cut - 1);
                assertThat(number(p, "records_past_fork_there")).isEqualTo(lost);
            });
            await("b is told where the histories diverge").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .untilAsserted(() -> assertThat(String.valueOf(peers(b.resource(RES)).get(0).get("split_brain")))
                            .contains("diverge after lsn " + (cut - 1)));
            assertThat(number(b.resource(RES), "replayed_lsn")).as("b replays nothing across the fork")
                    .isEqualTo(bReplayed);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(bImage);

            a.kill();
            a.start();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    Boolean.TRUE.equals(a.resource(RES).get("split_brain")));
            assertThat(b.resource(RES).get("split_brain")).as("b, after a restarted").isEqualTo(true);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(bImage);

            tern(b, "invalidate", RES);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(b.resource(RES).get("split_brain")).isEqualTo(false);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
        }
    }

    private static void write(TernNode node, Random random, int n) throws Exception {
        try (NbdClient c = NbdClient.connect(node.nbdAddress(), RES)) {
            for (int i = 0; i < n; i++) {
                byte[] data = new byte[4096];
                random.nextBytes(data);
                c.write((long) random.nextInt(4096) * 4096, data, false).get(30, TimeUnit.SECONDS);
            }
        }
    }
}
