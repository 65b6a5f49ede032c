package io.tern.bench;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import io.tern.proxy.FaultProxy;
import io.tern.replication.replay.Replayer;
import io.tern.replication.ship.LogReceiver;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.ship.ReplicationServer;
import io.tern.replication.ship.ShipperConfig;

/**
 * Replication benchmarks in one process, on the disk under {@code DIR}: a primary device
 * ({@link LoggedDevice}, sync mode) taking 4 KiB random writes with 32 in flight, and
 * secondaries (log, receiver, replayer) on their own files.
 * <ol>
 *   <li><b>Async isolation</b>: the primary's write rate with no secondary, then with one
 *       secondary behind {@link FaultProxy} emulating a 10 Mbit/s link with 50 ms each way, then
 *       again with none; ratio = with / mean(without).</li>
 *   <li><b>Replication lag</b> at half the measured maximum rate (open loop) with one secondary
 *       on loopback: for every LSN, the time from the primary's log holding it durably (the ack)
 *       to the secondary having replayed it, from positions sampled every 100 µs.</li>
 * </ol>
 * Args: {@code DIR [seconds-per-phase]}. Prints Markdown.
 */
public final class ReplicationBench {
    private static final int BLOCK = 4096;
    private static final long SIZE = 256L << 20;
    private static final int IN_FLIGHT = 32;
    /** Isolation rounds (each one phase without and one with the slow secondary): -Dbench.rounds. */
    private static final int ROUNDS = Integer.getInteger("bench.rounds", 4);

    /** Per LSN, the time from durable on the primary to durable in the secondary's log (sorted). */
    private static long[] receivedLag;

    private ReplicationBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("secondary")) {
            RemoteSecondary.run(args);
            return;
        }
        Path dir = Path.of(args.length > 0 ? args[0] : "target/bench-replication");
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        // -Dbench.secondaryDir=/dev/shm/x puts the secondaries' files on another disk than the primary's.
        Path secondaries = Path.of(System.getProperty("bench.secondaryDir", dir.resolve("secondaries").toString()));
        LogBench.deleteTree(dir);
        LogBench.deleteTree(secondaries);
        Files.createDirectories(dir);
        try (LoggedDevice primary = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve("primary.img"), SIZE, true))
                .log(new LogConfig().directory(dir.resolve("primary-log")).name("p"))
                .checkpointFile(dir.resolve("primary.checkpoint"))
                // -Dbench.checkpointMillis: the primary's checkpoint interval (the product's default otherwise)
                .checkpointInterval(Duration.ofMillis(Long.getLong("bench.checkpointMillis",
                        new LoggedDeviceConfig().checkpointInterval().toMillis())))
                .retainFrom(() -> 0));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log()));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "bench",
                     r -> shipper)) {
            // The slow secondary's JVM lives through all rounds, as a remote node's daemon would:
            // it attaches before a phase and detaches after. The warm-up phase, with it attached,
            // compiles its code (in a fresh JVM the JIT alone took a tenth of a core for seconds).
            double without = 0;
            try (RemoteSecondary remote = new RemoteSecondary(secondaries, server.address())) {
                remote.attach("warm-up", primary.log().durableLsn() + 1);
                Phase warm = closedLoop(primary, seconds); // warm-up: a fresh log and device run faster at first
                remote.detach();
                without = ROUNDS == 0 ? warm.rate : 0; // -Dbench.rounds=0: only the lag, at half the warm-up's rate
                // Phases without and with the slow secondary in ABBA order, so the primary's drift
                // (its log and dirty pages growing) and its periodic checkpoints fall on both alike.
                double with = 0;
                long lagged = 0;
                double[] ratios = new double[ROUNDS];
                StringBuilder rows = new StringBuilder();
                for (int round = 1; round <= ROUNDS; round++) {
                    boolean withFirst = round % 2 == 0;
                    Phase a = withFirst ? null : closedLoop(primary, seconds);
                    remote.attach("slow-" + round, primary.log().durableLsn() + 1);
                    double childBefore = remote.cpuSeconds();
                    Phase b = closedLoop(primary, seconds);
                    double childCpu = remote.cpuSeconds() - childBefore;
                    lagged = primary.log().durableLsn() - remote.detach();
                    if (withFirst) {
                        a = closedLoop(primary, seconds);
                    }
                    ratios[round - 1] = b.rate / a.rate;
                    rows.append(String.format("| %d | %,.0f | %.0f | %.0f%% | %,.0f | %.0f | %.0f%% | %.2f | %,d | %.2f× |%n", round,
                            a.rate, a.cpuMicrosPerWrite, a.idle * 100, b.rate, b.cpuMicrosPerWrite, b.idle * 100,
                            childCpu / b.seconds, lagged, ratios[round - 1]));
                    without += a.rate;
                    with += b.rate;
                }
                if (ROUNDS > 0) {
                    without /= ROUNDS;
                    with /= ROUNDS;
                    double[] sorted = ratios.clone();
                    Arrays.sort(sorted);
                    double mean = Arrays.stream(ratios).average().orElse(0);
                    double sd = Math.sqrt(Arrays.stream(ratios).map(r -> (r - mean) * (r - mean)).sum() / Math.max(1, ROUNDS - 1));
                    double half = 2.0 * sd / Math.sqrt(ROUNDS); // ~95% for the round counts used here
                    System.out.println("### Async isolation: 4 KiB random writes, 32 in flight, sync mode");
                    System.out.println();
                    System.out.println("Per phase: writes/s, the primary process's CPU per write (µs), the machine's idle CPU; "
                            + "with the secondary also the CPU its JVM (proxy and secondary, nice 19) used, in cores.");
                    System.out.println();
                    System.out.println("| round | no secondary: writes/s | CPU/write | idle | one secondary behind 10 Mbit/s, 50 ms each way: writes/s | CPU/write | idle | its JVM (cores) | its lag at the end (records) | ratio |");
                    System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
                    System.out.print(rows);
                    System.out.printf("| **all** | %,.0f | | | %,.0f | | | | | mean **%.3f×** ± %.3f (2 s.e.), median %.3f× |%n%n",
                            without, with, mean, half, ROUNDS % 2 == 1 ? sorted[ROUNDS / 2] : (sorted[ROUNDS / 2 - 1] + sorted[ROUNDS / 2]) / 2);
                }
            }

            try (Secondary s = new Secondary(secondaries.resolve("near"), primary.log().durableLsn() + 1, server.address())) {
                s.awaitConnected();
                double rate = without / 2;
                long[] lags = lag(primary, s, rate, seconds);
                Arrays.sort(lags);
                System.out.printf("### Replication lag at half the maximum rate (%,.0f writes/s, open loop), loopback%n%n", rate);
                System.out.println("| from primary ack to the secondary's | records | p50 (ms) | p90 | p99 | max |");
                System.out.println("|---|---:|---:|---:|---:|---:|");
                System.out.printf("| log (received, durable) | %,d | %.2f | %.2f | %.2f | %.2f |%n", receivedLag.length,
                        pct(receivedLag, 0.5), pct(receivedLag, 0.9), pct(receivedLag, 0.99),
                        receivedLag[receivedLag.length - 1] / 1e6);
                System.out.printf("| device (replayed) | %,d | %.2f | %.2f | %.2f | %.2f |%n", lags.length, pct(lags, 0.5),
                        pct(lags, 0.9), pct(lags, 0.99), lags[lags.length - 1] / 1e6);
            }
        }
    }

    private static double pct(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) (sorted.length * p))] / 1e6;
    }

    /** One closed-loop phase: acknowledged writes per second, the process's CPU per write, the machine's idle share. */
    private record Phase(double rate, double cpuMicrosPerWrite, double idle, double seconds) {
    }

    /** 4 KiB random writes with 32 in flight for {@code seconds}. */
    private static Phase closedLoop(LoggedDevice device, int seconds) throws InterruptedException {
        Semaphore window = new Semaphore(IN_FLIGHT);
        AtomicLong acked = new AtomicLong();
        long[] idleBefore = idleTicks();
        long cpuBefore = processCpuNanos();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long start = System.nanoTime();
        while (System.nanoTime() < end) {
            window.acquire();
            write(device).whenComplete((v, e) -> {
                if (e != null) {
                    throw new IllegalStateException("write failed", e);
                }
                acked.incrementAndGet();
                window.release();
            });
        }
        window.acquire(IN_FLIGHT);
        double secs = (System.nanoTime() - start) / 1e9;
        long cpu = processCpuNanos() - cpuBefore;
        long[] idleAfter = idleTicks();
        double idle = (double) (idleAfter[0] - idleBefore[0]) / Math.max(1, idleAfter[1] - idleBefore[1]);
        return new Phase(acked.get() / secs, cpu / 1e3 / Math.max(1, acked.get()), idle, secs);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** The machine's idle (and iowait) ticks and all ticks so far, from /proc/stat. */
    private static long[] idleTicks() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < f.length; i++) {
                total += Long.parseLong(f[i]);
            }
            return new long[] {Long.parseLong(f[4]) + Long.parseLong(f[5]), total};
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static java.util.concurrent.CompletableFuture<Void> write(LoggedDevice device) {
        byte[] b = new byte[BLOCK];
        ThreadLocalRandom r = ThreadLocalRandom.current();
        r.nextBytes(b);
        return device.write(BLOCK * r.nextLong(SIZE / BLOCK), ByteBuffer.wrap(b), false);
    }

    /**
     * Writes at {@code rate} per second (open loop) while a sampler records, every 100 µs, the
     * primary's durable LSN and the secondary's replayed LSN; returns each LSN's lag in ns.
     */
    private static long[] lag(LoggedDevice primary, Secondary s, double rate, int seconds) throws Exception {
        int maxSamples = seconds * 20_000 + 100_000;
        long[] t = new long[maxSamples];
        long[] p = new long[maxSamples];
        long[] r = new long[maxSamples];
        long[] q = new long[maxSamples];
        int[] n = {0};
        long first = primary.log().durableLsn() + 1;
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread sampler = new Thread(() -> {
            while (!stop.get() && n[0] < maxSamples) {
                int i = n[0];
                t[i] = System.nanoTime();
                p[i] = primary.log().durableLsn();
                r[i] = s.replayer.replayedLsn();
                q[i] = s.log.durableLsn();
                n[0] = i + 1;
                LockSupport.parkNanos(100_000);
            }
        }, "lag-sampler");
        sampler.start();
        long interval = (long) (1e9 / rate);
        long next = System.nanoTime();
        long end = next + TimeUnit.SECONDS.toNanos(seconds);
        Semaphore cap = new Semaphore(256);
        while (next < end) {
            long now = System.nanoTime();
            if (now < next) {
                LockSupport.parkNanos(next - now);
                continue;
            }
            cap.acquire();
            write(primary).whenComplete((v, e) -> cap.release());
            next += interval;
        }
        cap.acquire(256);
        long last = primary.log().durableLsn();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (s.replayer.replayedLsn() < last && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        Thread.sleep(5);
        stop.set(true);
        sampler.join();
        int count = n[0];
        long[] lags = new long[(int) (last - first + 1)];
        long[] received = new long[lags.length];
        int pi = 0;
        int ri = 0;
        int qi = 0;
        for (long lsn = first; lsn <= last; lsn++) {
            while (pi < count && p[pi] < lsn) {
                pi++;
            }
            while (ri < count && r[ri] < lsn) {
                ri++;
            }
            while (qi < count && q[qi] < lsn) {
                qi++;
            }
            if (pi >= count || ri >= count) {
                throw new IllegalStateException("lsn " + lsn + " was not replayed within the run");
            }
            lags[(int) (lsn - first)] = Math.max(0, t[ri] - t[pi]);
            received[(int) (lsn - first)] = Math.max(0, t[Math.min(qi, count - 1)] - t[pi]);
        }
        Arrays.sort(received);
        receivedLag = received;
        return lags;
    }

    /**
     * Secondaries behind an emulated 10 Mbit/s link with 50 ms each way ({@link FaultProxy}), in
     * a JVM of their own under {@code nice -n 19}: as on a machine of its own, it gets as little
     * as possible of the CPU the primary wants (in one process it took ~10% of a core from a load
     * generator that keeps the primary busy). The JVM stays up; each {@link #attach} starts a
     * fresh proxy and secondary in it, each {@link #detach} stops them.
     */
    private static final class RemoteSecondary implements AutoCloseable {
        private final Process process;
        private final java.io.BufferedReader out;
        private final java.io.PrintStream in;
        private final InetSocketAddress primary;
        private final Path dir;

        RemoteSecondary(Path dir, InetSocketAddress primary) throws Exception {
            Files.createDirectories(dir);
            this.dir = dir;
            this.primary = primary;
            java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("nice", "-n", "19",
                    Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
            cmd.addAll(java.util.List.of("-Xmx512m", "-cp", System.getProperty("java.class.path"),
                    ReplicationBench.class.getName(), "secondary"));
            process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(
                    dir.resolve("remote.err").toFile())).start();
            out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()));
            in = new java.io.PrintStream(process.getOutputStream(), true);
        }

        /** Starts a secondary in {@code dir/name} following the primary from {@code from}; returns once it is connected. */
        void attach(String name, long from) throws Exception {
            in.println("ATTACH " + dir.resolve(name) + " " + from + " " + primary.getHostString() + " "
                    + primary.getPort() + " " + name.hashCode());
            expect("CONNECTED");
        }

        /** Stops the attached secondary; returns the last LSN it replayed. */
        long detach() throws Exception {
            in.println("DETACH");
            return Long.parseLong(expect("REPLAYED ").substring(9));
        }

        private String expect(String prefix) throws java.io.IOException {
            String line = out.readLine();
            if (line == null || !line.startsWith(prefix)) {
                throw new IllegalStateException("the remote secondary said " + line + "; see " + dir.resolve("remote.err"));
            }
            return line;
        }

        /** The CPU its process has used so far, in seconds. */
        double cpuSeconds() {
            return process.toHandle().info().totalCpuDuration().map(d -> d.toNanos() / 1e9).orElse(Double.NaN);
        }

        @Override
        public void close() throws InterruptedException {
            in.close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }

        /** The child: reads ATTACH dir from host port seed / DETACH lines until its stdin closes. */
        static void run(String[] args) throws Exception {
            java.io.BufferedReader commands = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            FaultProxy link = null;
            Secondary s = null;
            try {
                for (String line; (line = commands.readLine()) != null; ) {
                    String[] w = line.split(" ");
                    if (w[0].equals("ATTACH")) {
                        InetSocketAddress target = new InetSocketAddress(w[3], Integer.parseInt(w[4]));
                        link = new FaultProxy(new InetSocketAddress("127.0.0.1", 0), target, Long.parseLong(w[5]))
                                .delay(50).bandwidth(10_000_000 / 8);
                        s = new Secondary(Path.of(w[1]), Long.parseLong(w[2]), link.address());
                        s.awaitConnected();
                        System.out.println("CONNECTED");
                    } else if (w[0].equals("DETACH") && s != null) {
                        long replayed = s.replayer.replayedLsn();
                        s.close();
                        link.close();
                        s = null;
                        System.out.println("REPLAYED " + replayed);
                    } else {
                        System.out.println("ERROR " + line);
                    }
                    System.out.flush();
                }
            } finally {
                if (s != null) {
                    s.close();
                }
                if (link != null) {
                    link.close();
                }
            }
        }
    }

    /** A secondary on its own files, following the primary from {@code from}. */
    private static final class Secondary implements AutoCloseable {
        final TransactionLog log;
        final FileBlockDevice device;
        final Replayer replayer;
        final LogReceiver receiver;

        Secondary(Path dir, long from, InetSocketAddress address) throws Exception {
            Files.createDirectories(dir);
            log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("s").firstLsn(from));
            device = FileBlockDevice.create(dir.resolve("s.img"), SIZE, true);
            new io.tern.block.logged.Checkpoint(1, from - 1).store(dir.resolve("checkpoint"));
            replayer = new Replayer("s", log, device, dir.resolve("checkpoint"), 1, Duration.ofSeconds(1))
                    .trimLogAtCheckpoint(true).start();
            receiver = new LogReceiver("bench", "r0", dir.getFileName().toString(), log, address, replayer::replayedLsn).start();
        }

        void awaitConnected() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!receiver.connected()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the secondary did not connect");
                }
                Thread.sleep(10);
            }
        }

        @Override
        public void close() {
            receiver.close();
            replayer.close();
            log.close();
            device.close();
        }
    }
}
