package io.tern.block.metrics;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;

/**
 * Watches a Netty event loop group for blocking: every {@value #PERIOD_MILLIS} ms each loop of
 * the group runs a task scheduled {@value #PERIOD_MILLIS} ms earlier, and how late it ran is
 * recorded in {@code tern_eventloop_delay_seconds} (tag {@code group}; a histogram, with the max
 * of the last interval). A loop that runs disk I/O, waits on a lock or is simply overloaded shows
 * here as delay; an idle, healthy loop shows the timer's granularity (well under a millisecond).
 *
 * <p>It stops by itself when the group shuts down (the next schedule is refused), or at
 * {@link #close()}. Thread contract: each loop's probe runs on that loop.
 */
public final class EventLoopProbe implements AutoCloseable {
    static final long PERIOD_MILLIS = 100;
    private static final long PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS);

    private final Timer delay;
    private volatile boolean closed;

    private EventLoopProbe(Timer delay) {
        this.delay = delay;
    }

    /** Starts probing every loop of {@code group}; {@code name} is the meter's {@code group} tag. */
    public static EventLoopProbe start(EventLoopGroup group, String name, MeterRegistry registry) {
        EventLoopProbe probe = new EventLoopProbe(Timer.builder("tern.eventloop.delay").tag("group", name)
                .description("how late a task scheduled on a Netty event loop ran: time the loop was blocked or busy")
                .serviceLevelObjectives(Buckets.LATENCY).register(registry));
        for (EventExecutor loop : group) {
            probe.schedule(loop);
        }
        return probe;
    }

    private void schedule(EventExecutor loop) {
        if (closed || loop.isShuttingDown()) {
            return;
        }
        long due = System.nanoTime() + PERIOD_NANOS;
        try {
            loop.schedule(() -> {
                delay.record(Math.max(0, System.nanoTime() - due), TimeUnit.NANOSECONDS);
                schedule(loop);
            }, PERIOD_NANOS, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            // the group shut down between the check and the schedule: nothing left to watch
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
