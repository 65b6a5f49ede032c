package io.tern.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.tern.block.nbd.NbdClient;

/**
 * The demo's block workload: random 4 KiB writes over NBD with a fixed number in flight, each
 * recorded in the {@link DemoModel} once acknowledged. It follows the primary through a handover:
 * when a write is refused (EPERM from a primary that stopped taking writes) or the connection
 * drops, it lets the writes in flight finish, reconnects to its {@link #target(InetSocketAddress)
 * target} and goes on; the demo points the target at the new primary once it took over.
 *
 * <p>Runs on its own thread between {@link #start} and {@link #stop}; the counters may be read
 * from any thread.
 */
final class DemoWriter {
    private static final long RETRY_MILLIS = 20;

    private final DemoModel model;
    private final int depth;
    private final SplittableRandom random;
    private final Semaphore window;
    private final AtomicLong acked = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastAckNanos = new AtomicLong();
    private final AtomicLong longestGapNanos = new AtomicLong();
    private volatile InetSocketAddress target;
    private volatile boolean running;
    private volatile boolean trouble;
    private boolean probing;
    private volatile String lastError;
    private volatile RuntimeException failure;
    private Thread thread;

    DemoWriter(DemoModel model, int depth, long seed) {
        this.model = model;
        this.depth = depth;
        this.random = new SplittableRandom(seed);
        this.window = new Semaphore(depth);
    }

    /** Starts writing to the export at {@code to}. */
    synchronized void start(InetSocketAddress to) {
        if (thread != null) {
            throw new IllegalStateException("the writer runs already");
        }
        target = to;
        running = true;
        lastAckNanos.set(System.nanoTime());
        thread = new Thread(this::run, "demo-writer");
        thread.setDaemon(true);
        thread.start();
    }

    /** Where the writer goes on after its next refused write or lost connection. */
    void target(InetSocketAddress to) {
        target = to;
    }

    /** Stops issuing writes and waits until every write in flight was answered. */
    synchronized void stop() throws InterruptedException {
        if (thread == null) {
            return;
        }
        running = false;
        thread.join(TimeUnit.SECONDS.toMillis(60));
        if (thread.isAlive()) {
            throw new DemoFailure("the writer's last writes were not answered within 60 s");
        }
        thread = null;
        if (failure != null) {
            throw new DemoFailure("the writer stopped: " + failure.getMessage());
        }
    }

    long acked() {
        return acked.get();
    }

    long refused() {
        return refused.get();
    }

    String lastError() {
        return lastError;
    }

    /** The longest time between two acknowledgements since the last call (the writer's view of a handover). */
    long takeLongestGapNanos() {
        return longestGapNanos.getAndSet(0);
    }

    private void run() {
        NbdClient client = null;
        try {
            while (running) {
                if (trouble) {
                    // Let every write in flight be answered, then start over on the (new) target.
                    drain(client);
                    client = close(client);
                    trouble = false;
                    probing = true;
                    Thread.sleep(RETRY_MILLIS); // a retry backoff, not synchronisation
                    continue;
                }
                if (client == null) {
                    try {
                        client = NbdClient.connect(target, DemoCommand.RES);
                    } catch (IOException e) {
                        lastError = "connect to " + target + ": " + e.getMessage(); // the export is switching roles
                        Thread.sleep(RETRY_MILLIS);
                        continue;
                    }
                }
                if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                int block = model.pick(random);
                int version = model.issue(block);
                client.write((long) block * DemoModel.BLOCK, DemoModel.content(block, version), false)
                        .whenComplete((x, e) -> {
                            if (e == null) {
                                model.acked(block, version);
                                acked.incrementAndGet();
                                long now = System.nanoTime();
                                long gap = now - lastAckNanos.getAndSet(now);
                                longestGapNanos.accumulateAndGet(gap, Math::max);
                            } else {
                                model.failed(block, version);
                                refused.incrementAndGet();
                                lastError = String.valueOf(e.getCause() != null ? e.getCause().getMessage() : e.getMessage());
                                trouble = true;
                            }
                            window.release();
                        });
                if (probing) {
                    // After a refusal one write at a time, until one is taken: the new target may still refuse.
                    drain(client);
                    probing = trouble;
                }
            }
            drain(client);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            close(client);
        }
    }

    /** Waits until every write in flight was answered; a connection that stays silent for 30 s is closed (failing them). */
    private void drain(NbdClient client) throws InterruptedException {
        if (!window.tryAcquire(depth, 30, TimeUnit.SECONDS)) {
            lastError = "writes unanswered for 30 s; connection closed";
            close(client);
            if (!window.tryAcquire(depth, 30, TimeUnit.SECONDS)) {
                throw new DemoFailure("writes still unanswered after their connection was closed");
            }
        }
        window.release(depth);
    }

    private static NbdClient close(NbdClient client) {
        if (client != null) {
            client.close();
        }
        return null;
    }
}
