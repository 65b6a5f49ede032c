package io.tern.cli;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.log.TransactionLog;

/**
 * Drives a log with concurrent writers, each appending a 4 KiB-style WRITE and waiting for its
 * ack before the next (as an NBD client at queue depth 1 per connection would), and measures
 * throughput and ack latency. Used by {@code tern demo} and by the log benchmark.
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

    /** The q-quantile of sorted nanosecond samples, in microseconds. */
    public static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e3;
    }
}
