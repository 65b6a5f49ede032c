package io.tern.block.logged;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.tern.log.RecordOp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device's applier: its own thread, after the log's appender. The appender hands over each
 * appended record (in LSN order) and goes on writing the next batch; this thread applies the
 * records to the backing store in the same order and completes their writes. So the appender
 * thread never waits for the backing store, and the backing store never waits for a sync.
 *
 * <p>The hand-over queue is bounded: an appender that gets ahead of the applier by a whole queue
 * waits for it (backpressure), and no queue grows without bound.
 *
 * <p>Between batches, and every {@link #IDLE_MILLIS} while none comes, the thread runs the idle
 * hook: where the device retries records the backing store refused, in order with the batches.
 *
 * <p>Thread contract: {@link #submit} is called by the log's appender thread (one producer);
 * the batch handler and the idle hook run on this applier's thread only.
 */
final class Applier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Applier.class);

    /** One record to apply, or an append that failed (then {@code error} is set). */
    static final class Task {
        final RecordOp op;
        final long offset;
        final int length;
        final ByteBuffer data;
        final CompletableFuture<Void> done;
        long lsn;
        Throwable error;

        Task(RecordOp op, long offset, int length, ByteBuffer data, CompletableFuture<Void> done) {
            this.op = op;
            this.offset = offset;
            this.length = length;
            this.data = data;
            this.done = done;
        }
    }

    /** Longest wait for a batch before the idle hook runs. */
    static final long IDLE_MILLIS = 50;
    /** First wait before records the backing store refused are tried again; it doubles up to {@link #MAX_RETRY}. */
    static final java.time.Duration FIRST_RETRY = java.time.Duration.ofSeconds(1);
    static final java.time.Duration MAX_RETRY = java.time.Duration.ofSeconds(30);

    private final ArrayBlockingQueue<Task> queue;
    private final Consumer<List<Task>> handler;
    private final Runnable idle;
    private final Thread thread;
    private volatile boolean stopping;

    Applier(String name, int capacity, Consumer<List<Task>> handler, Runnable idle) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.handler = handler;
        this.idle = idle;
        this.thread = new Thread(io.tern.log.Mdc.resource(name, this::run), "tern-apply-" + name);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Hands a task over, in LSN order; waits while the queue is full. */
    void submit(Task t) {
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(t);
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the task must not be lost: its writer waits for it
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        List<Task> batch = new ArrayList<>();
        while (true) {
            runIdle();
            Task first;
            try {
                first = queue.poll(IDLE_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                continue; // only close() stops this thread, after the queue is drained
            }
            if (first == null) {
                if (stopping && queue.isEmpty()) {
                    return;
                }
                continue;
            }
            batch.add(first);
            queue.drainTo(batch);
            try {
                handler.accept(batch);
            } catch (Throwable t) {
                // The handler completes every task itself; this is the last resort for a bug.
                log.error("applier failed on a batch of {} records", batch.size(), t);
                for (Task task : batch) {
                    task.done.completeExceptionally(t);
                }
            }
            batch.clear();
        }
    }

    private void runIdle() {
        try {
            idle.run();
        } catch (Throwable t) {
            log.error("applier's idle work failed", t); // the hook handles its own errors; this is for a bug
        }
    }

    /** Applies everything already handed over, then stops. Idempotent. */
    @Override
    public void close() {
        stopping = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            log.error("{} did not finish applying within 60 s", thread.getName());
        }
    }
}
