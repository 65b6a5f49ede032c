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
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forced failover between real node processes: the primary is killed with SIGKILL, the secondary
 * is made primary with {@code tern primary --force} and takes writes in a new epoch, then the old
 * primary comes back and is told to follow it ({@code tern secondary --peer}). If the old primary
 * holds writes the new one never received, both report a split brain with the fork LSN and
 * nothing moves (both images stay as they were, across restarts too); if it holds nothing past
 * the fork, it follows and the images converge.
 */
class ForcedFailoverTest {
    private static final String RES = "r0";
    private static final long SIZE = 32L << 20;

    @TempDir
    Path dir;

    @Test
    void anOldPrimaryWithWritesPastTheForkIsASplitBrainOnBothSidesAndNothingMoves() throws Exception {
        Random random = new Random(Seeds.seed("ForcedFailoverTest.splitBrain"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            try (Workload load = new Workload(a::nbdAddress, RES, SIZE, random.nextLong()).start()) {
                load.awaitMore(500 + random.nextInt(2000), 60);
                a.kill(); // mid-write: b may lack the last records a logged
            }
            promote(b);
            Map<String, Object> nb = b.resource(RES);
            long forkAt = number(nb, "chain_head_start_lsn") - 1;
            writeSome(b, random, 20); // the new primary's own writes, epoch 2

            a.start(); // the old primary comes back as it was: primary of epoch 1
            assertThat(a.resource(RES).get("role")).isEqualTo("Primary");
            assertThat(number(a.resource(RES), "epoch")).isEqualTo(1);
            writeSome(a, random, 10); // writes the new primary will never have: past the fork
            long aLast = number(a.resource(RES), "logged_lsn");
            assertThat(aLast).isGreaterThan(forkAt);
            String aImage = exportDigest(a, RES, dir);
            String bImage = exportDigest(b, RES, dir);

            tern(a, "secondary", RES, "--peer", b.peer());
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    Boolean.TRUE.equals(a.resource(RES).get("split_brain"))
                            && Boolean.TRUE.equals(b.resource(RES).get("split_brain")));
            checkSplitBrain(a, b, forkAt, aLast);

            // Nothing moved: both images are what they were, and both refuse again after a restart.
            assertThat(exportDigest(a, RES, dir)).as("the old primary's image").isEqualTo(aImage);
            assertThat(exportDigest(b, RES, dir)).as("the new primary's image").isEqualTo(bImage);
            a.kill();
            b.kill();
            b.start();
            a.start();
            assertThat(a.resource(RES).get("split_brain")).as("a after a restart").isEqualTo(true);
            assertThat(b.resource(RES).get("split_brain")).as("b after a restart").isEqualTo(true);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    "SplitBrain".equals(peers(a.resource(RES)).get(0).get("state")));
            checkSplitBrain(a, b, forkAt, aLast);
            assertThat(exportDigest(a, RES, dir)).as("the old primary's image after restarts").isEqualTo(aImage);
            assertThat(exportDigest(b, RES, dir)).as("the new primary's image after restarts").isEqualTo(bImage);
        }
    }

    @Test
    void anOldPrimaryWithNothingPastTheForkFollowsTheNewOne() throws Exception {
        Random random = new Random(Seeds.seed("ForcedFailoverTest.follows"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            try (Workload load = new Workload(a::nbdAddress, RES, SIZE, random.nextLong()).start()) {
                load.awaitMore(500 + random.nextInt(2000), 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            a.kill(); // idle: b holds everything a logged
            promote(b);
            writeSome(b, random, 20);
            a.start();
            tern(a, "secondary", RES, "--peer", b.peer());
            Map<String, Object> ra = a.resource(RES);
            assertThat(ra.get("role")).isEqualTo("Secondary");
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);
            ra = a.resource(RES);
            assertThat(ra.get("split_brain")).isEqualTo(false);
            assertThat(number(ra, "epoch")).as("a followed b into its epoch").isEqualTo(2);
            assertThat(exportDigest(a, RES, dir)).isEqualTo(exportDigest(b, RES, dir));
            List<Map<String, Object>> bPeers = peers(b.resource(RES));
            assertThat(bPeers).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo("a");
                assertThat(p.get("state")).isEqualTo("Replicating");
            });
        }
    }

    /** {@code tern primary RES --force} on b, which then serves writes as primary of epoch 2. */
    private static void promote(TernNode b) throws Exception {
        tern(b, "primary", RES, "--force");
        Map<String, Object> r = b.resource(RES);
        assertThat(r.get("role")).isEqualTo("Primary");
        assertThat(r.get("disk")).isEqualTo("UpToDate");
        assertThat(number(r, "epoch")).isEqualTo(2);
        assertThat(r.get("chain_head_node")).isEqualTo("b");
    }

    /** Writes {@code n} random 4 KiB blocks through the node's export and waits for each reply. */
    private static void writeSome(TernNode node, Random random, int n) throws Exception {
        try (NbdClient c = NbdClient.connect(node.nbdAddress(), RES)) {
            for (int i = 0; i < n; i++) {
                byte[] data = new byte[4096];
                random.nextBytes(data);
                c.write((long) random.nextInt((int) (SIZE / 4096)) * 4096, data, false).get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static void checkSplitBrain(TernNode a, TernNode b, long forkAt, long aLast) throws Exception {
        Map<String, Object> ra = a.resource(RES);
        assertThat(ra.get("role")).isEqualTo("Secondary");
        assertThat(peers(ra).get(0).get("state")).isEqualTo("SplitBrain");
        assertThat(String.valueOf(peers(ra).get(0).get("split_brain"))).contains("diverge after lsn " + forkAt);
        Map<String, Object> rb = b.resource(RES);
        assertThat(peers(rb)).anySatisfy(p -> {
            assertThat(p.get("node")).isEqualTo("a");
            assertThat(p.get("state")).isEqualTo("SplitBrain");
            assertThat(number(p, "fork_lsn")).isEqualTo(forkAt);
            assertThat(number(p, "records_past_fork_there")).isEqualTo(aLast - forkAt);
            assertThat(number(p, "records_past_fork_here")).isGreaterThanOrEqualTo(21); // its EPOCH record and 20 writes
        });
    }
}
