package io.tern.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.tern.log.LogConfig;
import io.tern.log.SyncObserver;
import io.tern.log.TransactionLog;

/**
 * The transaction log benchmark: durable 4 KiB appends from 1, 16, 64 and 256 concurrent writers
 * (each waiting for its ack), beside a baseline run in the same process on the same disk: plain
 * {@link FileChannel} writes into a pre-zeroed file with one {@code force(false)} per batch, the
 * batch being the mean batch Tern's group commit formed at that concurrency. Prints a Markdown
 * table. Args: {@code DIR [seconds] [warmup-seconds] [writers,...]}.
 */
public final class LogBench {
    private static final int RECORD = 4096;
    private static final long BASELINE_FILE = 1L << 30;
    /** {@code -Dbench.threads=true}: a thread per writer instead of appends kept in flight by two submitters. */
    private static final boolean THREADS = Boolean.getBoolean("bench.threads");

    private LogBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "target/bench");
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int[] writerCounts = args.length > 3
                ? Arrays.stream(args[3].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 16, 64, 256};
        Files.createDirectories(dir);
        Path baselineFile = dir.resolve("baseline.dat");
        preZero(baselineFile);

        List<String> rows = new ArrayList<>();
        for (int writers : writerCounts) {
            Path logDir = dir.resolve("log-" + writers);
            deleteTree(logDir);
            AtomicLong syncs = new AtomicLong();
            SyncObserver counter = new SyncObserver() {
                @Override
                public void afterSync(long lastLsn) {
                    syncs.incrementAndGet();
                }
            };
            LogLoad.Result tern;
            long syncCount;
            try (TransactionLog log = TransactionLog.open(new LogConfig().directory(logDir).name("bench")
                    .syncObserver(counter))) {
                load(log, writers, TimeUnit.SECONDS.toMillis(warmup), 7);
                long before = syncs.get();
                tern = load(log, writers, TimeUnit.SECONDS.toMillis(seconds), 11);
                syncCount = syncs.get() - before;
            }
            deleteTree(logDir);
            int batch = (int) Math.max(1, Math.round((double) tern.appends() / Math.max(1, syncCount)));
            runBaseline(baselineFile, batch, TimeUnit.SECONDS.toMillis(warmup));
            LogLoad.Result base = runBaseline(baselineFile, batch, TimeUnit.SECONDS.toMillis(seconds));
            rows.add(String.format("| %d | %,.0f | %.1f | %.0f / %.0f | %d | %,.0f | %.1f | %.0f / %.0f | **%.2f×** | %.1f |",
                    writers, tern.appendsPerSecond(), tern.mibPerSecond(), tern.p50Micros(), tern.p99Micros(), batch,
                    base.appendsPerSecond(), base.mibPerSecond(), base.p50Micros(), base.p99Micros(),
                    tern.appendsPerSecond() / base.appendsPerSecond(), tern.p99Micros() / base.p99Micros()));
            System.err.println(rows.get(rows.size() - 1));
        }
        System.out.println("| writers | Tern appends/s | Tern MiB/s | Tern ack p50 / p99 (µs) | mean batch | "
                + "baseline appends/s | baseline MiB/s | baseline batch p50 / p99 (µs) "
                + "| Tern / baseline | Tern ack p99 / baseline batch p99 |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        rows.forEach(System.out::println);
        Files.deleteIfExists(baselineFile);
    }

    private static LogLoad.Result load(TransactionLog log, int writers, long millis, long seed) throws InterruptedException {
        return THREADS ? LogLoad.run(log, writers, RECORD, millis, seed) : LogLoad.runInFlight(log, writers, RECORD, millis, seed);
    }

    /** Writes zeros over the whole baseline file and syncs it, so its blocks are allocated. */
    private static void preZero(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
            for (long pos = 0; pos < BASELINE_FILE; pos += zeros.capacity()) {
                zeros.clear();
                while (zeros.hasRemaining()) {
                    ch.write(zeros, pos + zeros.position());
                }
            }
            ch.force(true);
        }
    }

    /**
     * One thread writes {@code batch} records of 4 KiB at consecutive offsets, then forces once;
     * a record's latency is its batch's duration.
     */
    private static LogLoad.Result runBaseline(Path file, int batch, long millis) throws IOException {
        byte[] data = new byte[RECORD];
        new Random(3).nextBytes(data);
        ByteBuffer buf = ByteBuffer.allocateDirect(RECORD).put(data).flip();
        long[] lat = new long[1 << 16];
        int n = 0;
        long records = 0;
        long pos = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long start = System.nanoTime();
            long deadline = start + millis * 1_000_000L;
            while (System.nanoTime() < deadline) {
                long t0 = System.nanoTime();
                for (int i = 0; i < batch; i++) {
                    if (pos + RECORD > BASELINE_FILE) {
                        pos = 0;
                    }
                    buf.clear();
                    while (buf.hasRemaining()) {
                        pos += ch.write(buf, pos);
                    }
                }
                ch.force(false);
                long d = System.nanoTime() - t0;
                if (n == lat.length) {
                    lat = Arrays.copyOf(lat, n * 2);
                }
                lat[n++] = d;
                records += batch;
            }
            double secs = (System.nanoTime() - start) / 1e9;
            long[] sorted = Arrays.copyOf(lat, n);
            Arrays.sort(sorted);
            return new LogLoad.Result(batch, RECORD, records, secs, LogLoad.percentile(sorted, 0.5),
                    LogLoad.percentile(sorted, 0.99), n == 0 ? 0 : sorted[n - 1] / 1e3);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
