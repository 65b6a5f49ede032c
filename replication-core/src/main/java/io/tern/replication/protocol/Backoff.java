package io.tern.replication.protocol;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Reconnect delays: exponential from 50 ms to 5 s, each with ±50% jitter so that many
 * secondaries cut off together do not come back together. Not thread-safe: one per connector.
 */
public final class Backoff {
    private static final long MIN_MS = 50;
    private static final long MAX_MS = 5_000;
    private int failures;

    /** The delay before the next attempt, growing with each failure since the last {@link #reset()}. */
    public long nextDelayMillis() {
        long backoff = Math.min(MAX_MS, MIN_MS << Math.min(failures++, 10));
        return (long) (backoff * (0.5 + ThreadLocalRandom.current().nextDouble()));
    }

    public void reset() {
        failures = 0;
    }
}
