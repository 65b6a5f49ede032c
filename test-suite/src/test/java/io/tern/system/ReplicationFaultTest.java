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
import java.util.Map;

import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.proxy.FaultProxy;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The secondary reaches its primary only through {@link FaultProxy} while the primary takes a
 * continuous write load: a slow long link (delay and bandwidth cap), corrupted bytes, a cut long
 * enough for the keepalive to give up on the connection, and resets. The secondary lags, never
 * applies a damaged record, and catches up by itself; the images end equal.
 */
class ReplicationFaultTest {
    private static final String RES = "r0";

    @TempDir
    Path dir;

    @Test
    void theSecondaryLagsThroughFaultsAndCatchesUp() throws Exception {
        long size = 16L << 20;
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            try (FaultProxy proxy = new FaultProxy(new InetSocketAddress("127.0.0.1", 0), a.listenAddress(),
                    Seeds.seed("ReplicationFaultTest-proxy"))) {
                b.start();
                tern(b, "join", RES, "--peer", "127.0.0.1:" + proxy.address().getPort());
                awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
                try (Workload load = new Workload(a::nbdAddress, RES, size, Seeds.seed("ReplicationFaultTest")).start()) {
                    // A slow, long link: the secondary falls behind, the primary does not slow down.
                    proxy.delay(30).bandwidth(256 << 10);
                    load.awaitMore(2000, 60);
                    await().atMost(Duration.ofSeconds(30)).until(() -> lag(a) > 500);
                    Map<String, Object> behind = peers(a.resource(RES)).get(0);
                    assertThat(number(behind, "lag_bytes")).as("lag in bytes").isGreaterThan(500L * 4096);
                    assertThat(((Number) behind.get("lag_seconds")).doubleValue()).as("lag in seconds").isPositive();
                    proxy.delay(0).bandwidth(0);

                    // Damaged bytes on the way to the secondary, below TLS: a TLS record fails its
                    // authentication, the session restarts, nothing damaged is applied.
                    proxy.corrupt(0.05);
                    load.awaitMore(3000, 60);
                    await().atMost(Duration.ofSeconds(30)).until(() -> proxy.corrupted() >= 5);
                    proxy.corrupt(0);
                    assertThat(b.resource(RES).get("disk")).isNotEqualTo("Failed");

                    // A cut longer than the keepalive's patience, then resets.
                    long before = proxy.connections();
                    int deadA = count(a, "nothing heard from");
                    int deadB = count(b, "nothing heard from");
                    proxy.cut(true);
                    load.awaitMore(1000, 60);
                    // Past Keepalive.DEAD_SECONDS both ends must drop the dead session.
                    await().atMost(Duration.ofSeconds(30)).until(() ->
                            count(a, "nothing heard from") > deadA && count(b, "nothing heard from") > deadB);
                    proxy.cut(false);
                    await().atMost(Duration.ofSeconds(30)).until(() -> proxy.connections() > before);
                    for (int i = 0; i < 3; i++) {
                        load.awaitMore(300, 60);
                        proxy.reset();
                    }
                    load.awaitMore(500, 60);
                }
                awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                Map<String, Object> r = b.resource(RES);
                assertThat(r.get("disk")).isEqualTo("UpToDate");
                assertThat(r).doesNotContainKey("error");
                assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
                String log = Files.readString(b.home().resolve("daemon-1.err"));
                assertThat(log).doesNotContain("replay stopped");
                assertThat(log).contains("nothing heard from");
                System.err.printf("corrupted %d chunks, %d connections through the proxy%n", proxy.corrupted(),
                        proxy.connections());
            }
        }
    }

    /** How often the node's daemon log (its first run) says {@code what}. */
    private static int count(TernNode node, String what) throws java.io.IOException {
        String log = Files.readString(node.home().resolve("daemon-1.err"));
        int n = 0;
        for (int i = log.indexOf(what); i >= 0; i = log.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static long lag(TernNode primary) throws Exception {
        Map<String, Object> r = primary.resource(RES);
        return number(r, "logged_lsn") - number(peers(r).get(0), "replayed_lsn");
    }
}
