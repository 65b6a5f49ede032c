package io.tern.nemesis;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.tern;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.tern.harness.PowerLossFs;
import io.tern.harness.Replication;
import io.tern.harness.TernNode;
import io.tern.proxy.FaultProxy;

/**
 * Three real node processes a, b and c replicating one resource in sync durability, with 1 MiB
 * log segments (so a small quota makes the primary go Ahead quickly). Knows which node is
 * primary: it asks the nodes, never assumes.
 *
 * <p>Each node's home (log, backing store, links, certificates) lives on its own
 * {@link PowerLossFs}, mounted on {@code dir/N-mnt} with its state in {@code dir/N-fs}, so any
 * node can lose power ({@link #powerLoss}) and any node's backing store can fail
 * ({@link #failBackingStore}); its output goes to {@code dir/N} on the real disk, which a cut
 * does not touch.
 *
 * <p>Each node listens behind its own {@link FaultProxy} and advertises the proxy's address
 * ({@code tern init --advertise}), so every session another node or a secondary opens to it
 * (log pulls, full syncs, mesh links) passes through that proxy: {@link #proxy} cuts, slows or
 * corrupts what reaches a node from the others and what it answers them.
 *
 * <p>Thread contract: used by the nemesis thread only.
 */
final class Cluster implements AutoCloseable {
    static final String RES = "r0";
    static final long SIZE = 32L << 20;
    /**
     * A second resource, in {@code flush} durability, always primary on a: its writer FLUSHes now
     * and then, and after a power loss of a only what a FLUSH covered must survive.
     */
    static final String FLUSH_RES = "f0";
    static final long FLUSH_SIZE = 8L << 20;
    static final String[] NAMES = {"a", "b", "c"};

    /** The backing store's file name under a node's home (the resource's default data file). */
    static final String DATA_FILE = "data.img";

    private final TernNode[] nodes = new TernNode[NAMES.length];
    private final PowerLossFs[] fs = new PowerLossFs[NAMES.length];
    private final FaultProxy[] proxies = new FaultProxy[NAMES.length];
    private int primary;

    private Cluster() {
    }

    /** a creates the resource, b and c join it; returns once both are UpToDate. */
    static Cluster start(Path dir, long seed) throws Exception {
        Cluster c = new Cluster();
        try {
            PowerLossFs.requireAvailable();
            for (int i = 0; i < NAMES.length; i++) {
                c.fs[i] = PowerLossFs.mount(dir.resolve(NAMES[i] + "-fs"), dir.resolve(NAMES[i] + "-mnt"),
                        dir.resolve(NAMES[i] + "-fs.log"));
                int listen = Replication.freePort();
                c.proxies[i] = new FaultProxy(new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("127.0.0.1", listen),
                        seed + i);
                c.nodes[i] = Replication.init(c.fs[i].root().resolve(NAMES[i]), dir.resolve(NAMES[i]), NAMES[i], "nemesis",
                        listen, c.proxies[i].address());
            }
            c.nodes[0].start();
            tern(c.nodes[0], "create", RES, "--size", "32M", "--log-segment", "1M");
            for (int i = 1; i < NAMES.length; i++) {
                c.nodes[i].start();
                InetSocketAddress a = c.proxies[0].address();
                tern(c.nodes[i], "join", RES, "--peer", a.getHostString() + ":" + a.getPort(), "--log-segment", "1M");
            }
            tern(c.nodes[0], "create", FLUSH_RES, "--size", "8M", "--durability", "flush", "--log-segment", "1M");
            for (int i = 1; i < NAMES.length; i++) {
                InetSocketAddress a = c.proxies[0].address();
                tern(c.nodes[i], "join", FLUSH_RES, "--peer", a.getHostString() + ":" + a.getPort(), "--log-segment", "1M");
            }
            awaitCaughtUp(c.nodes[0], RES, Duration.ofSeconds(120), c.nodes[1], c.nodes[2]);
            awaitCaughtUp(c.nodes[0], FLUSH_RES, Duration.ofSeconds(120), c.nodes[1], c.nodes[2]);
            // Every node is dialled through its proxy (log pulls into a, mesh links into all), or
            // the link faults would miss sessions that went straight to the node.
            await("a session through each node's proxy").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> java.util.Arrays.stream(c.proxies).allMatch(p -> p.connections() > 0));
            for (int i = 0; i < NAMES.length; i++) {
                InetSocketAddress a = c.proxies[i].address();
                org.assertj.core.api.Assertions.assertThat(c.nodes[i].status().get("advertise"))
                        .as("%s's status: the address the members dial", NAMES[i]).isEqualTo(a.getHostString() + ":" + a.getPort());
            }
            return c;
        } catch (Exception | AssertionError e) {
            try {
                c.close(dir, true);
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    TernNode node(int i) {
        return nodes[i];
    }

    /** The proxy in front of node {@code i}: everything the others send it and it answers them passes there. */
    FaultProxy proxy(int i) {
        return proxies[i];
    }

    /**
     * Node {@code i} loses power: {@code kill -9}, then everything it did not fsync is gone (its
     * file system's cut). Returns what the cut dropped (the file system's counters before it).
     */
    String powerLoss(int i) throws Exception {
        nodes[i].kill();
        String pending = fs[i].stats();
        fs[i].cut();
        return pending;
    }

    /** From now on writes to node {@code i}'s backing store of r0 fail with {@code errno} (EIO or ENOSPC), until {@link #healBackingStore}. */
    void failBackingStore(int i, String errno) throws Exception {
        fs[i].failWrites(errno, "/" + RES + "/" + DATA_FILE); // r0's only: f0's writer is not ready for refusals
    }

    void healBackingStore(int i) throws Exception {
        fs[i].heal();
    }

    int size() {
        return nodes.length;
    }

    int primaryIndex() {
        return primary;
    }

    TernNode primary() {
        return nodes[primary];
    }

    /** The secondaries, in name order (as the nemesis knew the roles last). */
    List<Integer> secondaries() {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++) {
            if (i != primary) {
                s.add(i);
            }
        }
        return s;
    }

    TernNode[] secondaryNodes() {
        return secondaries().stream().map(i -> nodes[i]).toArray(TernNode[]::new);
    }

    /**
     * Waits until every node answers and exactly one says it is primary, and the others
     * secondaries; remembers which. Fails after {@code atMost} with what the nodes said.
     */
    void awaitOnePrimary(Duration atMost) {
        StringBuilder seen = new StringBuilder();
        try {
            await("one primary, two secondaries").atMost(atMost).pollInterval(Duration.ofMillis(200)).until(() -> {
                seen.setLength(0);
                int found = -1;
                int primaries = 0;
                for (int i = 0; i < nodes.length; i++) {
                    Object role;
                    try {
                        role = nodes[i].resource(RES).get("role");
                    } catch (Exception e) {
                        role = "unreachable (" + e.getMessage() + ")";
                    }
                    seen.append(NAMES[i]).append('=').append(role).append(' ');
                    if ("Primary".equals(role)) {
                        primaries++;
                        found = i;
                    } else if (!"Secondary".equals(role)) {
                        return false;
                    }
                }
                if (primaries != 1) {
                    return false;
                }
                primary = found;
                return true;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("not exactly one primary after " + atMost + ": " + seen, e);
        }
    }

    Map<String, Object> status(int i) throws Exception {
        return nodes[i].resource(RES);
    }

    static String name(int i) {
        return NAMES[i];
    }

    /**
     * Kills the nodes and unmounts their file systems; with {@code keep}, first copies each
     * node's home as it is (live, not only what is durable) to {@code dir/N/home-at-end} for the
     * reader of a failed run.
     */
    void close(Path dir, boolean keep) throws Exception {
        Exception first = null;
        for (int i = 0; i < nodes.length; i++) {
            try {
                if (nodes[i] != null) {
                    nodes[i].kill();
                }
                if (keep && fs[i] != null) {
                    copy(nodes[i].home(), dir.resolve(NAMES[i]).resolve("home-at-end"));
                }
            } catch (Exception e) {
                first = first == null ? e : first;
            }
            try {
                if (fs[i] != null) {
                    fs[i].close();
                }
            } catch (Exception e) {
                first = first == null ? e : first;
            }
            if (proxies[i] != null) {
                proxies[i].close();
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public void close() throws Exception {
        close(null, false);
    }

    private static void copy(Path from, Path to) throws java.io.IOException {
        try (java.util.stream.Stream<Path> all = java.nio.file.Files.walk(from)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (java.nio.file.Files.isDirectory(p)) {
                    java.nio.file.Files.createDirectories(target);
                } else if (java.nio.file.Files.isRegularFile(p)) {
                    java.nio.file.Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
