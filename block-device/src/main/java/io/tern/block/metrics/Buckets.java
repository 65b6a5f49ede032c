package io.tern.block.metrics;

import java.time.Duration;

/**
 * The histogram buckets Tern's meters publish, few on purpose: every bucket is a time series per
 * resource (and op) on the Prometheus server. Latencies span a synced 4 KiB append on a cached
 * disk (about 100 µs) to a stalled device (seconds); batch sizes are powers of two up to a ring.
 */
public final class Buckets {
    /** 50 µs to 5 s: 16 buckets, plus +Inf. */
    public static final Duration[] LATENCY = {
            Duration.ofNanos(50_000), Duration.ofNanos(100_000), Duration.ofNanos(250_000),
            Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofNanos(2_500_000), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
            Duration.ofSeconds(5)};

    /** 1 to 1024 (records per sync): 11 buckets, plus +Inf. */
    public static final double[] BATCH = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

    private Buckets() {
    }
}
