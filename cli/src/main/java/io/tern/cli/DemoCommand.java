package io.tern.cli;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.block.nbd.NbdClient;
import io.tern.node.HostPort;
import io.tern.node.StatusText;
import io.tern.node.Node;
import io.tern.node.NodeHome;
import io.tern.node.Resource;
import io.tern.replication.protocol.Messages;
import io.tern.replication.sync.Probe;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tern demo}: two nodes on loopback, a workload, verification. Node a is primary of a
 * resource served over NBD; a client writes random blocks with 32 requests in flight (each
 * acknowledged only once durable in the transaction log). Node b joins while the writes go on:
 * a full sync copies the device, then b pulls a's log and replays it. Once b has caught up, every
 * block is read back from both nodes' NBD exports (b's is read-only). Then a is restarted
 * (log recovery and replay), takes more writes, b reconnects by itself and catches up, and
 * everything is checked again.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Two nodes on loopback, a workload, verification.")
final class DemoCommand implements Callable<Integer> {
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;
    private static final String RES = "r0";

    @Option(names = "--dir", description = "Folder for the demo's node homes (default: a new temporary folder).")
    Path dir;

    @Option(names = "--seconds", defaultValue = "2", description = "How long each write phase lasts (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Override
    public Integer call() throws Exception {
        Path root = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tern-demo-");
        System.out.println("Tern demo: node a is primary of resource r0 (64 MiB); node b joins it as a secondary.");
        HostPort aListen = new HostPort("127.0.0.1", freePort()); // fixed: b finds a there after a restart
        HostPort any = new HostPort("127.0.0.1", 0);
        NodeHome homeA = NodeHome.init(root.resolve("node-a"), "a", NodeHome.DEFAULT_CLUSTER, aListen, any, any);
        NodeHome homeB = NodeHome.init(root.resolve("node-b"), "b", NodeHome.DEFAULT_CLUSTER, any, any, any);
        Resource.create(homeA, RES, SIZE, null, false, io.tern.block.logged.Durability.SYNC,
                io.tern.node.LogSegment.DEFAULT, 0);
        System.out.println("node homes: " + homeA.dir() + ", " + homeB.dir());

        int slots = (int) (SIZE / BLOCK);
        int[] version = new int[slots]; // 0 = never written
        Random random = new Random(1);
        int written;
        Node b = null;
        try {
            try (Node a = Node.start(homeA)) {
                InetSocketAddress nbd = a.nbdAddress();
                System.out.printf("node a serving nbd://%s:%d/r0, replication on %s%n", nbd.getHostString(), nbd.getPort(),
                        aListen);
                written = writeLoad(nbd, version, random, null);
                written += writeLoad(nbd, version, random, () -> {
                    Messages.Welcome w = Probe.ask(homeB.cluster(), RES, "b", aListen.toAddress(), Duration.ofSeconds(10));
                    Resource.join(homeB, RES, w.size(), w.epoch(), aListen, null, io.tern.node.ResourceConfig.Pull.DEFAULT,
                            io.tern.node.LogSegment.DEFAULT, 0);
                    System.out.println("  node b joins r0 while the writes go on (full sync, then the log) ...");
                    return Node.start(homeB);
                });
                b = lastStarted;
                awaitCaughtUp(a, b);
                check(a.nbdAddress(), version, "node a, read back over NBD");
                check(b.nbdAddress(), version, "node b, read back over its read-only NBD export");
            }
            System.out.println("node a stopped; b keeps its copy. Starting a again (log recovery and replay) ...");
            try (Node a = Node.start(homeA)) {
                check(a.nbdAddress(), version, "node a, read back after restart");
                written += writeLoad(a.nbdAddress(), version, random, null);
                awaitCaughtUp(a, b);
                check(b.nbdAddress(), version, "node b, after reconnecting by itself");
                System.out.print(StatusText.render(a.status()));
                System.out.print(StatusText.render(b.status()));
            }
        } finally {
            if (b != null) {
                b.close();
            }
        }
        if (dir == null) {
            deleteTree(root);
            System.out.println("demo OK (" + written + " writes; its temporary data was removed, keep it with --dir DIR)");
        } else {
            System.out.println("demo OK (" + written + " writes); data kept in " + root);
        }
        return 0;
    }

    private Node lastStarted;

    /** Something to do once the load runs (b's join); returns the node it started. */
    private interface During {
        Node run() throws Exception;
    }

    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Waits until b's disk is UpToDate and it has replayed everything a logged. */
    private static void awaitCaughtUp(Node a, Node b) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        long t0 = System.nanoTime();
        while (true) {
            Map<?, ?> ra = (Map<?, ?>) ((List<?>) a.status().get("resources")).get(0);
            Map<?, ?> rb = (Map<?, ?>) ((List<?>) b.status().get("resources")).get(0);
            if ("UpToDate".equals(rb.get("disk")) && ra.get("logged_lsn").equals(rb.get("replayed_lsn"))) {
                System.out.printf("  node b caught up at lsn %s (%.1f s after the writes stopped)%n", rb.get("replayed_lsn"),
                        (System.nanoTime() - t0) / 1e9);
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("node b did not catch up within 120 s: " + rb);
            }
            Thread.sleep(50);
        }
    }

    /** Random 4 KiB writes, 32 in flight, for the phase's duration, running {@code during} meanwhile; returns how many were acked. */
    private int writeLoad(InetSocketAddress nbd, int[] version, Random random, During during) throws Exception {
        Semaphore window = new Semaphore(32);
        AtomicInteger acked = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        long[] latencies = new long[1 << 20];
        AtomicInteger n = new AtomicInteger();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        System.out.printf("writing random 4 KiB blocks with 32 in flight for %d s; each is acked once durable ...%n", seconds);
        java.util.concurrent.CompletableFuture<Node> side = during == null ? null
                : java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return during.run();
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
        try (NbdClient client = NbdClient.connect(nbd, "r0")) {
            long start = System.nanoTime();
            while (System.nanoTime() < end && error.get() == null) {
                window.acquire();
                int slot = random.nextInt(version.length);
                int v = ++version[slot]; // one writer thread: versions only grow
                long t0 = System.nanoTime();
                client.write((long) slot * BLOCK, content(slot, v), false).whenComplete((x, e) -> {
                    if (e != null) {
                        error.compareAndSet(null, e);
                    } else {
                        int i = n.getAndIncrement();
                        if (i < latencies.length) {
                            latencies[i] = System.nanoTime() - t0;
                        }
                        acked.incrementAndGet();
                    }
                    window.release();
                });
            }
            if (!window.tryAcquire(32, 30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("writes still unacknowledged 30 s after the load stopped");
            }
            double secs = (System.nanoTime() - start) / 1e9;
            if (error.get() != null) {
                throw new IllegalStateException("a write failed: " + error.get(), error.get());
            }
            if (side != null) {
                lastStarted = side.get(60, TimeUnit.SECONDS);
            }
            long[] sorted = Arrays.copyOf(latencies, Math.min(n.get(), latencies.length));
            Arrays.sort(sorted);
            System.out.printf("  %,d writes acked: %,.0f writes/s, %.1f MiB/s, latency p50 %.2f ms, p99 %.2f ms%n",
                    acked.get(), acked.get() / secs, acked.get() * (double) BLOCK / secs / (1 << 20),
                    sorted[sorted.length / 2] / 1e6, sorted[(int) (sorted.length * 0.99)] / 1e6);
        }
        return acked.get();
    }

    /** Reads every block over NBD and compares it with its last write (or zeros). */
    private static void check(InetSocketAddress nbd, int[] version, String what) throws Exception {
        byte[] zeros = new byte[BLOCK];
        try (NbdClient client = NbdClient.connect(nbd, "r0")) {
            for (int slot = 0; slot < version.length; slot++) {
                byte[] got = client.read((long) slot * BLOCK, BLOCK).get(30, TimeUnit.SECONDS);
                byte[] want = version[slot] == 0 ? zeros : content(slot, version[slot]);
                if (!Arrays.equals(got, want)) {
                    throw new IllegalStateException(what + ": block " + slot + " does not hold its last write");
                }
            }
        }
        System.out.printf("  %s: all %,d blocks hold their last write%n", what, version.length);
    }

    private static byte[] content(int slot, int version) {
        byte[] b = new byte[BLOCK];
        new Random(((long) slot << 32) | version).nextBytes(b);
        return b;
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
