package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.proxy.FaultProxy;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Ahead mode on real nodes: a 4 MiB log quota (1 MiB segments), a secondary behind a link that
 * is cut while the primary keeps writing 4 KiB blocks over the first 16 MiB of a 64 MiB device.
 * The primary must not slow down when it goes Ahead (its write rate over the same workload, not
 * a timed assertion: the ratio of two rates measured in this run), must show the peer
 * {@code Behind} with the dirty bytes, and when the link returns the secondary must compare
 * only the dirty chunks (never the whole device), receive no block that was not written since
 * the cut, and end with an image equal to the primary's.
 */
@Isolated("compares write rates measured at two moments")
class AheadModeTest {
    private static final String RES = "r0";
    private static final int BLOCK = 4096;
    /** Writes land in the first 16 MiB: the dirty chunks can never be the whole 64 MiB device. */
    private static final int SLOTS = (16 << 20) / BLOCK;
    private static final int MEASURED = 1500;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    /** Writes {@code count} random blocks, each acknowledged before the next; marks them; returns the nanoseconds taken. */
    private static long write(NbdClient client, Random random, int count, BitSet written) throws Exception {
        long start = System.nanoTime();
        byte[] block = new byte[BLOCK];
        for (int i = 0; i < count; i++) {
            random.nextBytes(block);
            int slot = random.nextInt(SLOTS);
            client.write((long) slot * BLOCK, block, false).get(10, TimeUnit.SECONDS);
            written.set(slot);
        }
        return System.nanoTime() - start;
    }

    @Test
    void aPrimaryOverItsQuotaGoesAheadWithoutSlowingAndTheSecondaryResyncsOnlyWhatChanged() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "64M", "--log-segment", "1M", "--log-quota", "4M");
            try (FaultProxy proxy = new FaultProxy(new InetSocketAddress("127.0.0.1", 0), a.listenAddress(),
                    Seeds.seed("AheadModeTest-proxy"))) {
                b.start();
                tern(b, "join", RES, "--peer", "127.0.0.1:" + proxy.address().getPort());
                awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
                Random random = new Random(Seeds.seed("AheadModeTest"));
                BitSet sinceCut = new BitSet();
                try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                    write(client, random, 200, new BitSet()); // warm up
                    long before = write(client, random, MEASURED, new BitSet());
                    awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

                    proxy.cut(true);
                    // Past the quota: the primary goes Ahead of b while these writes go on.
                    write(client, random, 1024, sinceCut);
                    await().atMost(Duration.ofSeconds(30)).until(() -> {
                        write(client, random, 50, sinceCut);
                        return "Behind".equals(peers(a.resource(RES)).get(0).get("state"));
                    });
                    long ahead = write(client, random, MEASURED, sinceCut);
                    double ratio = (double) before / ahead; // rate while Ahead / rate before the cut
                    System.err.printf("write rate while Ahead / before the cut: %.2f (%d writes each: %.0f vs %.0f per s)%n",
                            ratio, MEASURED, MEASURED / (ahead / 1e9), MEASURED / (before / 1e9));
                    assertThat(ratio).as("the primary's write rate while Ahead, relative to before the cut")
                            .isGreaterThanOrEqualTo(0.95);
                }
                Map<String, Object> primary = a.resource(RES);
                Map<String, Object> peer = peers(primary).get(0);
                assertThat(peer).containsEntry("node", "b").containsEntry("state", "Behind");
                long dirty = number(peer, "dirty_bytes");
                assertThat(dirty).as("dirty bytes").isPositive().isLessThanOrEqualTo(16L << 20);
                // Enforced each second, behind the checkpoint: once the writes pause it is back within the quota.
                await().atMost(Duration.ofSeconds(15)).until(() -> number(a.resource(RES), "log_bytes")
                        <= number(a.resource(RES), "log_quota_bytes"));
                assertThat(Files.exists(a.home().resolve("resources").resolve(RES).resolve("dirty-b")))
                        .as("the dirty map is durable").isTrue();

                proxy.cut(false);
                awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                Map<String, Object> sync = (Map<String, Object>) b.resource(RES).get("sync");
                assertThat(number(sync, "compared_bytes")).as("only the dirty chunks are compared")
                        .isPositive().isLessThanOrEqualTo(dirty);
                assertThat(number(sync, "sent_bytes")).as("only blocks written since the cut move")
                        .isPositive().isLessThanOrEqualTo((long) sinceCut.cardinality() * BLOCK);
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        "Replicating".equals(peers(a.resource(RES)).get(0).get("state")));
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        !Files.exists(a.home().resolve("resources").resolve(RES).resolve("dirty-b")));
                assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
                assertThat(Files.readString(a.home().resolve("daemon-1.err"))).contains("goes Ahead of b");

                // The quota changes on the running node, and outlives a restart; one below 4 segments is refused.
                tern(a, "adjust", RES, "--log-quota", "8M");
                assertThat(number(a.resource(RES), "log_quota_bytes")).isEqualTo(8L << 20);
                assertThat(a.command(60, "adjust", RES, "--log-quota", "2M", "--home", a.home().toString())).isNotZero();
                assertThat(Files.readString(a.logs().resolve("command.err"))).contains("less than 4 log segments");
                a.stop();
                a.start();
                assertThat(number(a.resource(RES), "log_quota_bytes")).isEqualTo(8L << 20);
            }
        }
    }

    /**
     * A secondary killed with kill -9 at 10% of its full sync (paced at 8 MiB/s over 128 MiB) while
     * the primary takes writes past its 4 MiB quota: its session is gone, so it no longer counts
     * as connected; the primary lets it go and refuses no write; restarted, it syncs again and
     * ends with the primary's image.
     */
    @Test
    void aSecondaryKilledDuringItsFullSyncIsLetGoAndNoWriteIsRefused() throws Exception {
        long size = 128L << 20;
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "128M", "--log-segment", "1M", "--log-quota", "4M");
            try (io.tern.harness.Workload load = new io.tern.harness.Workload(a::nbdAddress, RES, size,
                    Seeds.seed("AheadModeTest-sync")).start()) {
                load.awaitMore(200, 60);
                b.start();
                tern(b, "join", RES, "--peer", a.peer(), "--sync-rate", "8M");
                await().atMost(Duration.ofSeconds(60)).until(() ->
                        number((Map<String, Object>) b.resource(RES).get("sync"), "copied_bytes") >= size / 10);
                b.kill();
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        Boolean.FALSE.equals(peers(a.resource(RES)).get(0).get("connected")));
                // 16 MiB and more of writes: four times the quota, while b is away mid-sync.
                long loggedAtKill = number(a.resource(RES), "logged_lsn");
                await().atMost(Duration.ofSeconds(60)).until(() -> {
                    Map<String, Object> r = a.resource(RES);
                    return number(r, "log_first_lsn") > loggedAtKill && "Behind".equals(peers(r).get(0).get("state"));
                });
                load.awaitMore(1000, 60);
                assertThat(load.failed()).as("writes refused").isZero();
                Map<String, Object> primary = a.resource(RES);
                assertThat(peers(primary).get(0)).containsEntry("node", "b").containsEntry("connected", false);

                b.start();
                load.awaitMore(500, 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(180), b);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
        }
    }
}
