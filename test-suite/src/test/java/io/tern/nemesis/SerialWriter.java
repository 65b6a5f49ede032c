package io.tern.nemesis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;
import org.awaitility.Awaitility;

/**
 * A recorded NBD writer with one write in flight at a time, into the same {@link BlockHistory} as
 * the other writers: each write is acknowledged before the next is sent, so in a sync-durability
 * log its writes follow each other in this order, one record each, and the k-th write after a
 * quiet point is the record at that point's LSN + k. That is what lets {@link PrefixCheck} name
 * the exact prefix a paused secondary's image must equal. Stops at the first failure.
 */
final class SerialWriter implements AutoCloseable {
    private final NbdClient client;
    private final BlockHistory history;
    private final Random random;
    private final int round;
    private final Thread thread;
    private final List<BlockHistory.Write> sent = new ArrayList<>();
    private volatile long acked;
    private volatile boolean stopped;
    private volatile Throwable error;

    SerialWriter(NbdClient client, BlockHistory history, long seed, int round) {
        this.client = client;
        this.history = history;
        this.random = new Random(seed);
        this.round = round;
        this.thread = new Thread(this::run, "serial-writer-" + round);
        thread.setDaemon(true);
    }

    SerialWriter start() {
        thread.start();
        return this;
    }

    /** The writes sent so far, in the order sent (a write is listed before it is sent). */
    synchronized List<BlockHistory.Write> sent() {
        return List.copyOf(sent);
    }

    void awaitAcked(long n, Duration atMost) {
        Awaitility.await("serial writer of step " + round + ": " + n + " writes acknowledged").atMost(atMost)
                .pollInterval(Duration.ofMillis(2)).until(() -> acked >= n || stopped);
        if (error != null) {
            throw new AssertionError("serial writer failed", error);
        }
        if (acked < n) {
            throw new AssertionError("step " + round + ": the serial writer stopped after " + acked + " of " + n
                    + " acknowledged writes; errors: " + history.errors());
        }
    }

    private void run() {
        try {
            while (!stopped) {
                boolean zeroes = random.nextInt(10) == 0;
                BlockHistory.Write w = history.claim(random, 1 + random.nextInt(16), zeroes, round);
                if (w == null) {
                    continue; // cannot happen with one write in flight, unless an earlier write was refused
                }
                synchronized (this) {
                    sent.add(w);
                }
                Throwable failure = null;
                try {
                    (zeroes ? client.writeZeroes(w.offset(), w.length()) : client.write(w.offset(), history.content(w), false))
                            .get(60, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    failure = e.getCause();
                } catch (java.util.concurrent.TimeoutException e) {
                    failure = e;
                }
                history.answered(w, failure);
                if (failure != null) {
                    stopped = true;
                } else {
                    acked++;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            error = e;
            stopped = true;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stopped = true;
        thread.join(70_000);
        client.close();
        if (error != null) {
            throw new AssertionError("serial writer failed", error);
        }
    }
}
