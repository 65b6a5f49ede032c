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
    /** Forced failovers into a split brain, the roles alternating. */
    private static final int ROUNDS = 10;

    @TempDir
    Path dir;

    @Test
    void anOldPrimaryWithWritesPastTheForkIsASplitBrainUntilInvalidateResyncsWhatForked() throws Exception {
        Random random = new Random(Seeds.seed("ForcedFailoverTest.splitBrain"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            TernNode primary = a;
            TernNode secondary = b;
            for (int round = 1; round <= ROUNDS; round++) {
                splitBrainRound(round, random, primary, secondary);
                TernNode old = primary;
                primary = secondary;
                secondary = old;
            }
        }
    }

    /**
     * One round: {@code p} primary, {@code s} its secondary. The secondary's site goes, the primary
     * takes writes alone and is killed in the middle of more; the secondary is forced to primary
     * and takes writes; the old primary returns as it was. Both must report the split brain (and
     * keep it across restarts, in round 1) while nothing moves; then {@code tern invalidate} on the
     * old primary resyncs at most the blocks either side touched past the fork, and the images
     * converge with the old primary following.
     */
    @SuppressWarnings("unchecked")
    private void splitBrainRound(int round, Random random, TernNode p, TernNode s) throws Exception {
        String pName = p.home().getFileName().toString();
        String sName = s.home().getFileName().toString();
        try (Workload load = new Workload(p::nbdAddress, RES, SIZE, random.nextLong()).start()) {
            load.awaitMore(100 + random.nextInt(500), 60);
        }
        awaitCaughtUp(p, RES, Duration.ofSeconds(60), s);
        long epochBefore = number(p.resource(RES), "epoch");
        s.kill(); // the secondary's site goes first: the primary goes on alone
        java.util.Set<Long> touched = java.util.concurrent.ConcurrentHashMap.newKeySet();
        touched.addAll(writeSome(p, random, 5 + random.nextInt(30)));
        try (RecordingWriter writer = new RecordingWriter(p, random.nextLong(), touched)) {
            writer.awaitWrites(1 + random.nextInt(50));
            p.kill(); // then the primary's, in the middle of writes
        }
        s.start();
        tern(s, "primary", RES, "--force");
        Map<String, Object> ns = s.resource(RES);
        assertThat(ns.get("role")).as("round %d", round).isEqualTo("Primary");
        assertThat(number(ns, "epoch")).as("round %d: a new epoch", round).isGreaterThan(epochBefore);
        long forkAt = number(ns, "chain_head_start_lsn") - 1;
        touched.addAll(writeSome(s, random, 5 + random.nextInt(30)));

        p.start(); // the old primary comes back as it was, with writes the new one never had
        await("round " + round + ": both report the split brain").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(100)).until(() -> Boolean.TRUE.equals(p.resource(RES).get("split_brain"))
                        && Boolean.TRUE.equals(s.resource(RES).get("split_brain")));
        Map<String, Object> rp = p.resource(RES);
        assertThat(rp.get("role")).as("round %d: the old primary stays as it is", round).isEqualTo("Primary");
        assertThat(rp.get("chain_head_node")).isEqualTo(pName);
        long pLast = number(rp, "logged_lsn");
        assertThat(pLast).isGreaterThan(forkAt);
        checkForkOnBoth(p, s, forkAt, pLast);
        String pImage = exportDigest(p, RES, dir);
        String sImage = exportDigest(s, RES, dir);
        if (round == 1) {
            // Both keep it across restarts, and nothing moves.
            p.kill();
            s.kill();
            s.start();
            p.start();
            assertThat(p.resource(RES).get("split_brain")).as("after a restart").isEqualTo(true);
            assertThat(s.resource(RES).get("split_brain")).as("after a restart").isEqualTo(true);
            checkForkOnBoth(p, s, forkAt, pLast);
        }
        assertThat(exportDigest(p, RES, dir)).as("round %d: the old primary's image", round).isEqualTo(pImage);
        assertThat(exportDigest(s, RES, dir)).as("round %d: the new primary's image", round).isEqualTo(sImage);

        // The operator decides for the new primary: the old one discards its side, resyncs only what
        // either side touched past the fork, and follows.
        tern(p, "invalidate", RES);
        assertThat(java.nio.file.Files.readString(p.logs().resolve("command.out")))
                .contains("split brain with " + sName + " after lsn " + forkAt);
        awaitCaughtUp(s, RES, Duration.ofSeconds(60), p);
        rp = p.resource(RES);
        assertThat(rp.get("role")).isEqualTo("Secondary");
        assertThat(rp.get("split_brain")).isEqualTo(false);
        assertThat(exportDigest(p, RES, dir)).as("round %d: images after invalidate", round)
                .isEqualTo(exportDigest(s, RES, dir));
        long sent = number((Map<String, Object>) rp.get("sync"), "sent_bytes");
        System.err.printf("round %d: %s forced to primary; fork after lsn %d; %s held %d records past it; invalidate "
                + "resynced %d bytes for %d blocks touched past the fork on both sides%n", round, sName, forkAt, pName,
                pLast - forkAt, sent, touched.size());
        assertThat(sent).as("round %d: bytes resynced: at most the blocks touched past the fork on either side", round)
                .isLessThanOrEqualTo(touched.size() * 4096L);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                Boolean.FALSE.equals(s.resource(RES).get("split_brain")));
        assertThat(peers(s.resource(RES))).anySatisfy(peer -> {
            assertThat(peer.get("node")).isEqualTo(pName);
            assertThat(peer.get("state")).isEqualTo("Replicating");
        });
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
        String aName = a.home().getFileName().toString();
        String bName = b.home().getFileName().toString();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).ignoreExceptions().untilAsserted(() -> {
            assertThat(peers(a.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo(bName);
                assertThat(p.get("state")).isEqualTo("SplitBrain");
                assertThat(number(p, "fork_lsn")).isEqualTo(forkAt);
                assertThat(number(p, "records_past_fork_here")).isEqualTo(aLast - forkAt);
                assertThat(number(p, "records_past_fork_there")).isGreaterThanOrEqualTo(6); // its EPOCH record, 5+ writes
            });
            assertThat(peers(b.resource(RES))).anySatisfy(p -> {
                assertThat(p.get("node")).isEqualTo(aName);
                assertThat(p.get("state")).isEqualTo("SplitBrain");
                assertThat(number(p, "fork_lsn")).isEqualTo(forkAt);
                assertThat(number(p, "records_past_fork_there")).isEqualTo(aLast - forkAt);
                assertThat(number(p, "records_past_fork_here")).isGreaterThanOrEqualTo(6); // its EPOCH record and 5+ writes
            });
            // The bytes of writes each side holds past the fork, as it counts them and as its peer shows them.
            Map<String, Object> onA = peers(a.resource(RES)).stream().filter(p -> bName.equals(p.get("node"))).findFirst()
                    .orElseThrow();
            Map<String, Object> onB = peers(b.resource(RES)).stream().filter(p -> aName.equals(p.get("node"))).findFirst()
                    .orElseThrow();
            assertThat(number(onA, "bytes_past_fork_here")).isPositive().isEqualTo(number(onB, "bytes_past_fork_there"));
            assertThat(number(onB, "bytes_past_fork_here")).isPositive().isEqualTo(number(onA, "bytes_past_fork_there"));
        });
    }

    /**
     * Writes 4 KiB blocks at random offsets through a node's export, up to 8 in flight, until
     * closed or the node goes away; every offset is recorded in {@code touched} before it is sent.
     */
    private static final class RecordingWriter implements AutoCloseable {
        private final NbdClient client;
        private final Random random;
        private final java.util.Set<Long> touched;
        private final java.util.concurrent.atomic.AtomicLong acked = new java.util.concurrent.atomic.AtomicLong();
        private final Thread thread;
        private volatile boolean stopped;

        RecordingWriter(TernNode node, long seed, java.util.Set<Long> touched) throws Exception {
            this.client = NbdClient.connect(node.nbdAddress(), RES);
            this.random = new Random(seed);
            this.touched = touched;
            this.thread = new Thread(this::run, "recording-writer");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(8);
            try {
                while (!stopped) {
                    if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                    long offset = (long) random.nextInt((int) (SIZE / 4096)) * 4096;
                    byte[] data = new byte[4096];
                    random.nextBytes(data);
                    touched.add(offset);
                    client.write(offset, data, false).whenComplete((v, e) -> {
                        if (e == null) {
                            acked.incrementAndGet();
                        } else {
                            stopped = true;
                        }
                        window.release();
                    });
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                stopped = true; // the connection went with the node
            }
        }

        void awaitWrites(long n) {
            await("writes acknowledged").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2))
                    .until(() -> acked.get() >= n || stopped);
        }

        @Override
        public void close() throws InterruptedException {
            stopped = true;
            thread.join(10_000);
            client.close();
        }
    }
}
