package io.tern.cli;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.block.nbd.NbdClient;
import io.tern.node.HostPort;
import io.tern.node.Json;
import io.tern.node.Node;
import io.tern.node.NodeHome;
import io.tern.node.Resource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tern demo}: runs what Tern has built so far on an embedded default and checks it. Today:
 * a standalone primary node serving one resource over NBD; a client writes random blocks with
 * 32 requests in flight (each acknowledged only once durable in the transaction log), reads them
 * all back, then the node is restarted — recovering its log and replaying it — and everything is
 * read back again.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run Tern on an embedded default and verify the result.")
final class DemoCommand implements Callable<Integer> {
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;

    @Option(names = "--dir", description = "Folder for the demo's node home (default: a new temporary folder).")
    Path dir;

    @Option(names = "--seconds", defaultValue = "3", description = "How long to write (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Override
    public Integer call() throws Exception {
        Path root = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tern-demo-");
        Path homeDir = root.resolve("node-a");
        System.out.println("Tern demo: a standalone primary serving a resource over NBD. Replication is not");
        System.out.println("built yet; this demo grows with it.");
        NodeHome home = NodeHome.init(homeDir, "a", NodeHome.DEFAULT_CLUSTER, new HostPort("127.0.0.1", 0), new HostPort("127.0.0.1", 0),
                new HostPort("127.0.0.1", 0));
        Resource.create(home, "r0", SIZE, null, false, io.tern.block.logged.Durability.SYNC);
        System.out.println("node home: " + homeDir + " (resource r0, 64 MiB)");

        int slots = (int) (SIZE / BLOCK);
        int[] version = new int[slots]; // 0 = never written
        int written;
        try (Node node = Node.start(home)) {
            InetSocketAddress nbd = node.nbdAddress();
            System.out.printf("node a serving nbd://%s:%d/r0%n", nbd.getHostString(), nbd.getPort());
            written = writeLoad(nbd, version);
            check(nbd, version, "read back over NBD");
        }
        System.out.println("node stopped; starting it again (log recovery and replay) ...");
        try (Node node = Node.start(home)) {
            check(node.nbdAddress(), version, "read back after restart");
            System.out.print(Json.write(node.status()));
        }
        if (dir == null) {
            deleteTree(root);
            System.out.println("demo OK (" + written + " writes; its temporary data was removed, keep it with --dir DIR)");
        } else {
            System.out.println("demo OK (" + written + " writes); data kept in " + root);
        }
        return 0;
    }

    /** Random 4 KiB writes, 32 in flight, for the demo's duration; returns how many were acked. */
    private int writeLoad(InetSocketAddress nbd, int[] version) throws Exception {
        Random random = new Random(1);
        Semaphore window = new Semaphore(32);
        AtomicInteger acked = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        long[] latencies = new long[1 << 20];
        AtomicInteger n = new AtomicInteger();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        System.out.printf("writing random 4 KiB blocks with 32 in flight for %d s; each is acked once durable ...%n", seconds);
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
