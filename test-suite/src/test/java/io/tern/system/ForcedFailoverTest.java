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
 * primary comes back as it was. If it holds writes the new one never received, both report a
 * split brain with the fork LSN and the records each holds past it, and nothing moves (both
 * images stay as they were, across restarts, and when the old primary is told to follow) until
 * {@code tern invalidate} on the old primary resyncs at most the blocks either side touched past
 * the fork and the images converge; if it holds nothing past the fork, it follows the new primary
 * by itself.
 */
class ForcedFailoverTest {
    private static final String RES = "r0";
    private static final long SIZE = 32L << 20;

    @TempDir
    Path dir;

    @Test
    @SuppressWarnings("unchecked")
    void anOldPrimaryWithWritesPastTheForkIsASplitBrainUntilInvalidateResyncsWhatForked() throws Exception {
        Random random = new Random(Seeds.seed("ForcedFailoverTest.splitBrain"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            try (Workload load = new Workload(a::nbdAddress, RES, SIZE, random.nextLong()).start()) {
                load.awaitMore(200 + random.nextInt(1000), 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            b.kill(); // the secondary's site goes first: a goes on alone
            java.util.Set<Long> touched = new java.util.TreeSet<>(writeSome(a, random, 30)); // past the fork
            a.kill(); // then the primary's
            b.start();
            promote(b); // from what b had received: a's last writes are not there
            long forkAt = number(b.resource(RES), "chain_head_start_lsn") - 1;
            touched.addAll(writeSome(b, random, 20)); // the new primary's own writes, epoch 2

            a.start(); // the old primary comes back as it was: primary of epoch 1, with writes b never had
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    Boolean.TRUE.equals(a.resource(RES).get("split_brain"))
                            && Boolean.TRUE.equals(b.resource(RES).get("split_brain")));
            Map<String, Object> ra = a.resource(RES);
            assertThat(ra.get("role")).as("the old primary stays as it is").isEqualTo("Primary");
            assertThat(ra.get("chain_head_node")).isEqualTo("a");
            long aLast = number(ra, "logged_lsn");
            assertThat(aLast).isGreaterThan(forkAt);
            checkForkOnBoth(a, b, forkAt, aLast);
            String aImage = exportDigest(a, RES, dir);
            String bImage = exportDigest(b, RES, dir);

            // Both sides keep it across restarts, and nothing moves.
            a.kill();
            b.kill();
            b.start();
            a.start();
            assertThat(a.resource(RES).get("split_brain")).as("a after a restart").isEqualTo(true);
            assertThat(b.resource(RES).get("split_brain")).as("b after a restart").isEqualTo(true);
            checkForkOnBoth(a, b, forkAt, aLast);
            assertThat(exportDigest(a, RES, dir)).as("the old primary's image").isEqualTo(aImage);
            assertThat(exportDigest(b, RES, dir)).as("the new primary's image").isEqualTo(bImage);

            // Told to follow b, a is refused: it stays a secondary that reports the split brain.
            tern(a, "secondary", RES, "--peer", b.peer());
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    "SplitBrain".equals(peers(a.resource(RES)).get(0).get("state")));
            ra = a.resource(RES);
            assertThat(ra.get("role")).isEqualTo("Secondary");
            assertThat(ra.get("split_brain")).isEqualTo(true);
            assertThat(String.valueOf(peers(ra).get(0).get("split_brain"))).contains("diverge after lsn " + forkAt);
            assertThat(exportDigest(a, RES, dir)).as("the old primary's image, as a secondary").isEqualTo(aImage);
            assertThat(exportDigest(b, RES, dir)).as("the new primary's image").isEqualTo(bImage);

            // The operator decides for b: a discards its side, resyncs only what either side touched past
            // the fork, and follows b.
            tern(a, "invalidate", RES);
            assertThat(java.nio.file.Files.readString(a.logs().resolve("command.out")))
                    .contains("split brain with b after lsn " + forkAt).contains("30 records");
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);
            ra = a.resource(RES);
            assertThat(ra.get("split_brain")).isEqualTo(false);
            assertThat(number(ra, "epoch")).isEqualTo(2);
            assertThat(exportDigest(a, RES, dir)).as("a's image after invalidate").isEqualTo(exportDigest(b, RES, dir));
            long sent = number((Map<String, Object>) ra.get("sync"), "sent_bytes");
            System.err.printf("invalidate: fork after lsn %d; %d bytes resynced for %d blocks touched past it on both "
                    + "sides%n", forkAt, sent, touched.size());
            assertThat(sent).as("bytes resynced: at most the blocks touched past the fork on either side")
                    .isPositive().isLessThanOrEqualTo(touched.size() * 4096L);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    Boolean.FALSE.equals(b.resource(RES).get("split_brain")));
            assertThat(peers(b.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo("a");
                assertThat(p.get("state")).isEqualTo("Replicating");
            });
        }
    }

    @Test
    void anOldPrimaryWithNothingPastTheForkFollowsTheNewOneByItself() throws Exception {
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
            await("the old primary follows the new one").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> "Secondary".equals(a.resource(RES).get("role")));
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);
            Map<String, Object> ra = a.resource(RES);
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

    /** Writes {@code n} random 4 KiB blocks through the node's export, waiting for each reply; returns their offsets. */
    private static List<Long> writeSome(TernNode node, Random random, int n) throws Exception {
        List<Long> offsets = new java.util.ArrayList<>();
        try (NbdClient c = NbdClient.connect(node.nbdAddress(), RES)) {
            for (int i = 0; i < n; i++) {
                byte[] data = new byte[4096];
                random.nextBytes(data);
                long offset = (long) random.nextInt((int) (SIZE / 4096)) * 4096;
                c.write(offset, data, false).get(30, TimeUnit.SECONDS);
                offsets.add(offset);
            }
        }
        return offsets;
    }

    /** Both report the split brain with the peer, at the fork LSN, with the records each holds past it. */
    private static void checkForkOnBoth(TernNode a, TernNode b, long forkAt, long aLast) throws Exception {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            assertThat(peers(a.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo("b");
                assertThat(p.get("state")).isEqualTo("SplitBrain");
                assertThat(number(p, "fork_lsn")).isEqualTo(forkAt);
                assertThat(number(p, "records_past_fork_here")).isEqualTo(aLast - forkAt);
                assertThat(number(p, "records_past_fork_there")).isGreaterThanOrEqualTo(21); // its EPOCH record, 20 writes
            });
            assertThat(peers(b.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo("a");
                assertThat(p.get("state")).isEqualTo("SplitBrain");
                assertThat(number(p, "fork_lsn")).isEqualTo(forkAt);
                assertThat(number(p, "records_past_fork_there")).isEqualTo(aLast - forkAt);
                assertThat(number(p, "records_past_fork_here")).isGreaterThanOrEqualTo(21);
            });
        });
    }
}
