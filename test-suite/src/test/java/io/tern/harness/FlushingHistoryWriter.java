package io.tern.harness;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.tern.block.nbd.NbdClient;
import org.awaitility.Awaitility;

/**
 * A seeded random write load over one NBD connection, recorded in a {@link FlushHistory}, with
 * FLUSH requests among the writes: 4–64 KiB writes (one in {@code fuaEvery} with FUA) and some
 * write-zeroes, up to {@code window} in flight, never two in flight on one block; before a write,
 * with probability {@code 1/flushEvery}, a FLUSH unless one is in flight. It stops sending at the first
 * failure (the node was killed) or when closed.
 */
public final class FlushingHistoryWriter implements AutoCloseable {
    private final NbdClient client;
    private final FlushHistory history;
    private final Random random;
    private final int round;
    private final int flushEvery;
    private final int fuaEvery;
    private final Semaphore window;
    private final int windowSize;
    private final Thread thread;
    private final AtomicLong acked = new AtomicLong();
    private final AtomicBoolean flushing = new AtomicBoolean();
    private volatile boolean stopped;
    private volatile Throwable error;

    public FlushingHistoryWriter(NbdClient client, FlushHistory history, long seed, int window, int flushEvery,
                                 int fuaEvery, int round) {
        this.client = client;
        this.history = history;
        this.random = new Random(seed);
        this.round = round;
        this.flushEvery = flushEvery;
        this.fuaEvery = fuaEvery;
        this.windowSize = window;
        this.window = new Semaphore(window);
        this.thread = new Thread(this::run, "flushing-history-writer-" + round);
        thread.setDaemon(true);
    }

    public FlushingHistoryWriter start() {
        thread.start();
        return this;
    }

    /** Writes of this writer the node acknowledged. */
    public long acked() {
        return acked.get();
    }

    /** The errors the node answered so far (none when it stopped because the connection was lost). */
    public java.util.List<String> errors() {
        return history.errors();
    }

    /** Whether the writer stopped by itself (a request failed: the node is gone). */
    public boolean stopped() {
        return stopped;
    }

    /** Waits until this writer has {@code n} writes acknowledged, or fails after {@code atMost}. */
    public void awaitAcked(long n, Duration atMost) {
        Awaitility.await("round " + round + ": " + n + " writes acknowledged").atMost(atMost)
                .pollInterval(Duration.ofMillis(2)).until(() -> acked.get() >= n || stopped);
        if (error != null) {
            throw new AssertionError("flushing history writer failed", error);
        }
        if (acked.get() < n) {
            throw new AssertionError("round " + round + ": the writer stopped after " + acked.get() + " of " + n
                    + " acknowledged writes; errors: " + history.errors());
        }
    }

    private void run() {
        try {
            while (!stopped) {
                if (random.nextInt(flushEvery) == 0 && flushing.compareAndSet(false, true)) {
                    long mark = history.flushSent();
                    client.flush().whenComplete((v, e) -> {
                        if (e == null) {
                            history.flushed(mark);
                        } else {
                            history.flushFailed(e);
                            stopped = true;
                        }
                        flushing.set(false);
                    });
                }
                if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                boolean zeroes = random.nextInt(10) == 0;
                boolean fua = !zeroes && random.nextInt(fuaEvery) == 0;
                FlushHistory.Write w = history.claim(random, 1 + random.nextInt(16), zeroes, fua, round);
                if (w == null) {
                    window.release();
                    continue; // drew a place a write in flight holds
                }
                CompletableFuture<Void> reply = zeroes ? client.writeZeroes(w.offset(), w.length())
                        : client.write(w.offset(), history.content(w), fua);
                reply.whenComplete((v, e) -> {
                    history.answered(w, e);
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        stopped = true;
                    }
                    window.release();
                });
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            error = e;
            stopped = true;
        }
    }

    /**
     * Stops sending, waits (up to 30 s) for the answers of the writes and the FLUSH in flight,
     * and closes the connection. Requests still unanswered then stay so in the history.
     */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        thread.join(30_000);
        if (window.tryAcquire(windowSize, 30, TimeUnit.SECONDS)) {
            window.release(windowSize);
        }
        Awaitility.await("round " + round + ": the FLUSH in flight answered").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(5)).until(() -> !flushing.get());
        client.close();
        if (error != null) {
            throw new AssertionError("flushing history writer failed", error);
        }
    }
}
