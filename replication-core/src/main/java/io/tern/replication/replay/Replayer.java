package io.tern.replication.replay;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.block.logged.Checkpoint;
import io.tern.log.LogCorruptedException;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.TransactionLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays a secondary's log onto its device, strictly in LSN order, one record at a time, so
 * that at every moment the device holds the primary's image after some prefix of the log. The
 * replay position is made durable periodically (sync the device, then store the checkpoint), and
 * a restarted replayer continues from it; replaying a record twice is harmless.
 *
 * <p>The checkpoint runs on its own thread, so the replay never waits for the device's sync (a
 * second's worth of random writes can take that sync tens of milliseconds): it records the LSN
 * replayed before the sync started, which the sync covers.
 *
 * <p>A full backing store or an I/O error of it (ENOSPC, EIO) does not stop the replay: the
 * record stays next, the replay retries it after a backoff ({@link #DEFAULT_FIRST_RETRY},
 * doubling up to {@link #DEFAULT_MAX_RETRY}) and says why in {@link #problem()} until it goes
 * through. The log keeps the record durable meanwhile, so nothing received is lost, and the
 * device still holds the image after {@link #replayedLsn()}. A corrupt record, any other device
 * error or a failed checkpoint sync stops the replay for good ({@link #failure()}); a corrupt
 * record is never applied.
 *
 * <p>{@link #pause} and the replay thread meet on a lock: the thread takes it to check for a
 * pause, read a record and apply it, so once {@code pause} holds it, no record is being applied
 * and none will be until {@link #resume()}.
 *
 * <p>Thread contract: one replay thread owns the reader and the device writes; the getters may
 * be read from any thread.
 */
public final class Replayer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Replayer.class);
    /** Longest idle wait: the log wakes the replayer when records become durable; this is the fallback. */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long PAUSED_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(500);
    /** First wait before a record the backing store refused is tried again; it doubles on each refusal. */
    public static final Duration DEFAULT_FIRST_RETRY = Duration.ofSeconds(1);
    public static final Duration DEFAULT_MAX_RETRY = Duration.ofSeconds(30);

    private final TransactionLog txlog;
    private final BlockDevice device;
    private final Path checkpointFile;
    private final long checkpointEveryNanos;
    private final Thread thread;
    private final java.util.concurrent.ScheduledExecutorService checkpointer;
    private final long epoch;
    private volatile long replayedLsn;
    private volatile long checkpointLsn;
    private volatile Throwable failure;
    private volatile boolean stopped;
    private volatile boolean pauseRequested;
    private volatile boolean paused;
    private volatile boolean trimLog;
    private final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    /** Held by the replay thread from its pause check to the end of a record's application, and by {@link #pause}. */
    private final java.util.concurrent.locks.ReentrantLock applying = new java.util.concurrent.locks.ReentrantLock();
    private volatile String problem;
    private volatile ReplayListener listener = ReplayListener.NONE;
    private long firstRetryNanos = DEFAULT_FIRST_RETRY.toNanos();
    private long maxRetryNanos = DEFAULT_MAX_RETRY.toNanos();
    // Replay thread only: a record read but not applied yet (the store refused it), and when to try again.
    private boolean pending;
    private long retryAt;
    private long retryNanos;

    public Replayer(String name, TransactionLog txlog, BlockDevice device, Path checkpointFile, long epoch,
                    Duration checkpointInterval) throws IOException {
        this.txlog = txlog;
        this.device = device;
        this.checkpointFile = checkpointFile;
        this.epoch = epoch;
        this.checkpointEveryNanos = checkpointInterval.toNanos();
        Checkpoint cp = Checkpoint.load(checkpointFile);
        this.replayedLsn = cp.lsn();
        this.checkpointLsn = cp.lsn();
        this.thread = new Thread(io.tern.log.Mdc.resource(name, this::run), "tern-replay-" + name);
        thread.setDaemon(true);
        this.checkpointer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(io.tern.log.Mdc.resource(name, r), "tern-replay-checkpoint-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Told of every record applied from now on (metrics). */
    public Replayer listener(ReplayListener listener) {
        this.listener = java.util.Objects.requireNonNull(listener, "listener");
        return this;
    }

    public Replayer start() {
        thread.start();
        checkpointer.scheduleWithFixedDelay(this::checkpointQuietly, checkpointEveryNanos, checkpointEveryNanos,
                TimeUnit.NANOSECONDS);
        return this;
    }

    /** Last LSN applied to the device (not necessarily synced). */
    public long replayedLsn() {
        return replayedLsn;
    }

    /** Last LSN whose application is durable on the device. */
    public long checkpointLsn() {
        return checkpointLsn;
    }

    /**
     * After each checkpoint, delete the log's segments below it: a secondary's log is needed
     * only from its replay position on.
     */
    public Replayer trimLogAtCheckpoint(boolean trim) {
        this.trimLog = trim;
        return this;
    }

    /**
     * How long to wait before trying a record the backing store refused again: {@code first},
     * doubling up to {@code max}. Before {@link #start()}.
     */
    public Replayer retryBackoff(Duration first, Duration max) {
        if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
            throw new IllegalArgumentException("retry backoff " + first + " up to " + max);
        }
        this.firstRetryNanos = first.toNanos();
        this.maxRetryNanos = max.toNanos();
        return this;
    }

    /**
     * Stops applying records and returns once no record is being applied, so the device holds
     * exactly the image after {@link #replayedLsn()} until {@link #resume()}. Returns false if
     * a record being applied did not complete within the timeout, or the replay thread is not
     * running (it has stopped or failed). Called before {@link #start()}, the replay starts
     * paused: nothing is applied until {@link #resume()}.
     */
    public boolean pause(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        pauseRequested = true;
        if (thread.getState() == Thread.State.NEW) {
            return true; // its first look is at the request
        }
        // The thread checks the request under this lock before it reads and applies a record: once
        // it is ours, the record in progress (if any) is applied and no other will be until resume().
        if (!applying.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return false;
        }
        applying.unlock();
        while (!paused && thread.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(1); // only so that paused() agrees at once; nothing is applied meanwhile
        }
        return thread.isAlive();
    }

    public void resume() {
        pauseRequested = false;
        LockSupport.unpark(thread);
    }

    public boolean paused() {
        return paused;
    }

    /** Why the replay stopped, or {@code null} while it runs. */
    public Throwable failure() {
        return failure;
    }

    /**
     * Why the replay is stuck but not stopped (the backing store refuses the next record; it is
     * retried), or {@code null} while it moves.
     */
    public String problem() {
        return problem;
    }

    private void run() {
        LogRecord rec = new LogRecord();
        try (LogReader reader = txlog.reader(Math.max(replayedLsn + 1, txlog.firstLsn()))) {
            while (!stopped) {
                if (pauseRequested) {
                    paused = true;
                    LockSupport.parkNanos(PAUSED_PARK_NANOS);
                    continue;
                }
                paused = false;
                long wait = retryAt - System.nanoTime();
                if (pending && wait > 0) {
                    // Short parks: a pause or close is seen at once, whatever the backoff.
                    LockSupport.parkNanos(Math.min(wait, IDLE_PARK_NANOS));
                } else if (!applyNext(reader, rec)) {
                    awaitDurable();
                }
            }
        } catch (LogCorruptedException | BlockDeviceException e) {
            failure = e;
            log.error("replay stopped after lsn {}: {}", replayedLsn, e.getMessage());
        } catch (RuntimeException e) {
            failure = e;
            log.error("replay stopped after lsn {}", replayedLsn, e);
        }
    }

    /**
     * Applies the record the store refused last, or the next durable one, unless a pause came
     * first. False when there is no record to apply.
     */
    private boolean applyNext(LogReader reader, LogRecord rec) {
        applying.lock();
        try {
            if (pauseRequested) {
                return true;
            }
            if (!pending) {
                if (!reader.next(rec)) {
                    return false;
                }
                pending = true;
            }
            try {
                apply(rec);
            } catch (BlockDeviceException e) {
                if (e.error() != BlockError.ENOSPC && e.error() != BlockError.EIO) {
                    throw e;
                }
                backOff(rec, e);
                return true;
            }
            pending = false;
            listener.applied(rec.lsn(), rec.op() == io.tern.log.RecordOp.EPOCH ? 0 : rec.length());
            replayedLsn = rec.lsn(); // after the listener: who sees the position sees it counted
            if (problem != null) {
                log.info("replay goes on: the backing store took lsn {} after {}", rec.lsn(), problem);
                problem = null;
                retryNanos = 0;
            }
            return true;
        } finally {
            applying.unlock();
        }
    }

    private void backOff(LogRecord rec, BlockDeviceException e) {
        retryNanos = retryNanos == 0 ? firstRetryNanos : Math.min(2 * retryNanos, maxRetryNanos);
        retryAt = System.nanoTime() + retryNanos;
        String why = "the backing store refuses lsn " + rec.lsn() + " (" + e.error() + ": " + e.getMessage()
                + "); retried in " + String.format(java.util.Locale.ROOT, "%.1f", retryNanos / 1e9) + " s"
                + (e.error() == BlockError.ENOSPC ? "; free space on the device's file system" : "");
        if (problem == null) { // once per episode: a full disk must not fill the log with warnings
            log.warn("replay is stuck after lsn {}: {}", replayedLsn, why);
        } else {
            log.debug("replay retry failed: {}", why);
        }
        problem = why;
    }

    /** Parks until the log says more is durable, or a while. */
    private void awaitDurable() {
        if (armed.compareAndSet(false, true)) {
            // Look again once the log says more is durable (or it already is).
            txlog.whenDurableAfter(replayedLsn, () -> {
                armed.set(false);
                LockSupport.unpark(thread);
            });
        } else {
            LockSupport.parkNanos(IDLE_PARK_NANOS);
        }
    }

    private void apply(LogRecord rec) {
        switch (rec.op()) {
            case WRITE -> await(device.write(rec.offset(), rec.payload(), false));
            case ZERO -> await(device.writeZeroes(rec.offset(), rec.length(), false));
            case EPOCH -> {
                // a term boundary: nothing to apply
            }
        }
    }

    /** Waits for a device operation; its failure comes out unwrapped (a {@link BlockDeviceException} as such). */
    private static void await(java.util.concurrent.CompletableFuture<Void> f) {
        try {
            f.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    private void checkpointQuietly() {
        try {
            if (failure == null) {
                checkpoint();
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
            stopped = true;
            log.error("replay checkpoint failed, replay stops: {}", e.toString());
        }
    }

    /** Syncs the device and stores the replay position (what was replayed before the sync started). */
    private synchronized void checkpoint() throws IOException {
        long lsn = replayedLsn;
        if (lsn == checkpointLsn) {
            return;
        }
        device.flush().join();
        new Checkpoint(epoch, lsn).store(checkpointFile);
        checkpointLsn = lsn;
        if (trimLog) {
            txlog.deleteSegmentsBelow(lsn + 1);
        }
    }

    /** Stops replaying and checkpoints what was applied. Idempotent. */
    @Override
    public void close() {
        if (stopped) {
            return;
        }
        stopped = true;
        checkpointer.shutdown();
        try {
            checkpointer.awaitTermination(30, TimeUnit.SECONDS);
            thread.join(30_000);
            if (failure == null && !thread.isAlive()) {
                checkpoint();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            log.error("final replay checkpoint failed: {}", e.toString());
        }
    }
}
