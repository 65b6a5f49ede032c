package io.tern.harness;

import java.io.IOException;
import java.util.Random;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.tern.block.nbd.NbdClient;

/**
 * A random write load over NBD (seeded offsets and contents, 4–64 KiB writes, some
 * write-zeroes, up to 8 in flight) that runs until stopped. When the node goes away (killed) it
 * reconnects to wherever {@code address} points next, so it outlives primary restarts.
 */
public final class Workload implements AutoCloseable {
    private final Supplier<java.net.InetSocketAddress> address;
    private final String export;
    private final long size;
    private final Random random;
    private final Thread thread;
    private final AtomicLong acked = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile boolean stopped;
    private volatile Throwable error;
    private volatile boolean compressible;

    public Workload(Supplier<java.net.InetSocketAddress> address, String export, long size, long seed) {
        this.address = address;
        this.export = export;
        this.size = size;
        this.random = new Random(seed);
        this.thread = new Thread(this::run, "workload-" + export);
        thread.setDaemon(true);
    }

    /** Writes whose second half is zeros (so compression has something to do). Before {@link #start()}. */
    public Workload compressible() {
        this.compressible = true;
        return this;
    }

    public Workload start() {
        thread.start();
        return this;
    }

    /** Writes the node replied to with success. */
    public long acked() {
        return acked.get();
    }

    /** Writes the node replied to with an error. */
    public long failed() {
        return failed.get();
    }

    /** Waits until at least {@code n} more writes are acknowledged, or fails after {@code seconds}. */
    public void awaitMore(long n, long seconds) {
        long target = acked.get() + n;
        org.awaitility.Awaitility.await("workload: " + n + " more writes acknowledged")
                .atMost(java.time.Duration.ofSeconds(seconds)).pollInterval(java.time.Duration.ofMillis(5))
                .until(() -> acked.get() >= target || error != null);
        if (error != null) {
            throw new AssertionError("workload failed", error);
        }
    }

    /** A client of the node, once it accepts one (it may be restarting): up to a minute. */
    private NbdClient connect() {
        return org.awaitility.Awaitility.await("workload: the node accepts an NBD client")
                .atMost(java.time.Duration.ofSeconds(60)).pollInterval(java.time.Duration.ofMillis(50))
                .ignoreExceptionsInstanceOf(IOException.class)
                .until(() -> stopped ? null : NbdClient.connect(address.get(), export), c -> stopped || c != null);
    }

    private void run() {
        while (!stopped) {
            NbdClient connected = connect();
            if (connected == null) {
                return; // stopped while the node was away
            }
            try (NbdClient client = connected) {
                Semaphore window = new Semaphore(8);
                while (!stopped) {
                    if (!window.tryAcquire(1, TimeUnit.SECONDS)) {
                        continue;
                    }
                    int len = 4096 * (1 + random.nextInt(16));
                    long off = 4096L * random.nextInt((int) ((size - len) / 4096));
                    var reply = random.nextInt(10) == 0 ? client.writeZeroes(off, len)
                            : client.write(off, bytes(len), false);
                    reply.whenComplete((v, e) -> {
                        (e == null ? acked : failed).incrementAndGet();
                        window.release();
                    });
                    if (failed.get() > 0 && reply.isCompletedExceptionally()) {
                        break;
                    }
                }
                window.tryAcquire(8, 10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                error = e;
                return;
            }
        }
    }

    private byte[] bytes(int len) {
        byte[] b = new byte[len];
        random.nextBytes(b);
        if (compressible) {
            java.util.Arrays.fill(b, len / 2, len, (byte) 0);
        }
        return b;
    }


    /** Stops writing and waits for the writes in flight. */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        thread.join(30_000);
        if (error != null) {
            throw new AssertionError("workload failed", error);
        }
    }
}
