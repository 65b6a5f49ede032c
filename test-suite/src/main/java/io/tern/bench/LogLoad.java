package io.tern.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.log.TransactionLog;

/**
 * Drives a log with a fixed number of appends in flight and measures throughput and ack latency.
 * Two shapes: {@link #run} gives each writer its own thread, which appends and waits for its ack
 * before the next (a file system's writers); {@link #runInFlight} keeps the same number of
 * appends outstanding from two submitting threads, completions arriving by callback (an NBD
 * server's event loops at that queue depth). Used by the log benchmark.
 */
public final class LogLoad {
    /** What a run measured. Latencies in microseconds. */
    public record Result(int writers, int recordSize, long appends, double seconds, double p50Micros,
                         double p99Micros, double maxMicros) {
        public double appendsPerSecond() {
            return appends / seconds;
        }

        public double mibPerSecond() {
            return appends * (double) recordSize / seconds / (1 << 20);
        }
    }

    private LogLoad() {
    }

    /**
     * Runs {@code writers} threads against {@code log} for {@code millis}.
     *
     * @throws IllegalStateException if any append failed
     */
    public static Result run(TransactionLog log, int writers, int recordSize, long millis, long seed)
            throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        long[][] latencies = new long[writers][];
        int[] counts = new int[writers];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            Thread t = new Thread(() -> {
                byte[] data = new byte[recordSize];
                new Random(seed + writer).nextBytes(data);
                ByteBuffer payload = ByteBuffer.allocateDirect(recordSize).put(data).flip();
                long[] lat = new long[4096];
                int n = 0;
                try {
                    for (long i = 0; System.nanoTime() < deadline; i++) {
                        long offset = ((long) writer << 32) + i * recordSize;
                        long t0 = System.nanoTime();
                        log.appendWrite(1, offset, payload.duplicate(), 0).join();
                        if (n == lat.length) {
                            lat = Arrays.copyOf(lat, n * 2);
                        }
                        lat[n++] = System.nanoTime() - t0;
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                latencies[writer] = lat;
                counts[writer] = n;
            }, "load-" + w);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (failure.get() != null) {
            throw new IllegalStateException("an append failed during the load", failure.get());
        }
        int total = Arrays.stream(counts).sum();
        long[] all = new long[total];
        int at = 0;
        for (int w = 0; w < writers; w++) {
            System.arraycopy(latencies[w], 0, all, at, counts[w]);
            at += counts[w];
        }
        Arrays.sort(all);
        return new Result(writers, recordSize, total, seconds, percentile(all, 0.50), percentile(all, 0.99),
                total == 0 ? 0 : all[total - 1] / 1e3);
    }

    /**
     * Keeps {@code inFlight} appends outstanding from two submitter threads for {@code millis}.
     *
     * @throws IllegalStateException if any append failed
     */
    public static Result runInFlight(TransactionLog log, int inFlight, int recordSize, long millis, long seed)
            throws InterruptedException {
        byte[] data = new byte[recordSize];
        new Random(seed).nextBytes(data);
        ByteBuffer payload = ByteBuffer.allocateDirect(recordSize).put(data).flip().asReadOnlyBuffer();
        java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(inFlight);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicLong nextOffset = new java.util.concurrent.atomic.AtomicLong();
        // Completions run on the log's single appender thread: only it touches these.
        long[][] lat = {new long[1 << 16]};
        int[] n = {0};
        long deadline = System.nanoTime() + millis * 1_000_000L;
        long start = System.nanoTime();
        List<Thread> submitters = new ArrayList<>();
        for (int s = 0; s < Math.min(2, inFlight); s++) {
            Thread t = new Thread(() -> {
                try {
                    while (System.nanoTime() < deadline && failure.get() == null) {
                        permits.acquire();
                        long t0 = System.nanoTime();
                        long offset = nextOffset.getAndAdd(recordSize);
                        log.append(io.tern.log.RecordOp.WRITE, 0, 1, offset, recordSize, payload.duplicate(),
                                (lsn, error) -> {
                                    if (error != null) {
                                        failure.compareAndSet(null, error);
                                    } else {
                                        if (n[0] == lat[0].length) {
                                            lat[0] = Arrays.copyOf(lat[0], n[0] * 2);
                                        }
                                        lat[0][n[0]++] = System.nanoTime() - t0;
                                    }
                                    permits.release();
                                });
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "load-submit-" + s);
            submitters.add(t);
            t.start();
        }
        for (Thread t : submitters) {
            t.join();
        }
        // Let the outstanding appends finish so that every measured append was acked.
        if (!permits.tryAcquire(inFlight, 30, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("appends still outstanding 30 s after the load stopped");
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (failure.get() != null) {
            throw new IllegalStateException("an append failed during the load", failure.get());
        }
        // Every completion released its permit after recording, and all permits are back: its writes are visible.
        long[] all = Arrays.copyOf(lat[0], n[0]);
        Arrays.sort(all);
        return new Result(inFlight, recordSize, all.length, seconds, percentile(all, 0.50), percentile(all, 0.99),
                all.length == 0 ? 0 : all[all.length - 1] / 1e3);
    }

    /** The q-quantile of sorted nanosecond samples, in microseconds. */
    public static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e3;
    }
}
