package io.tern.replication.replay;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
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
 * <p>Thread contract: one replay thread owns the reader and the device writes; the getters may
 * be read from any thread. A device error stops the replay (state in {@link #failure()}); a
 * corrupt record stops it before the record is applied.
 */
public final class Replayer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Replayer.class);
    /** Longest idle wait: the log wakes the replayer when records become durable; this is the fallback. */
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long PAUSED_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(500);

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
        this.thread = new Thread(this::run, "tern-replay-" + name);
        thread.setDaemon(true);
        this.checkpointer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tern-replay-checkpoint-" + name);
            t.setDaemon(true);
            return t;
        });
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
     * Stops applying records and returns once no record is being applied, so the device holds
     * exactly the image after {@link #replayedLsn()} until {@link #resume()}. Returns false if
     * the replay thread did not get there within the timeout (it has stopped or failed).
     */
    public boolean pause(Duration timeout) throws InterruptedException {
        pauseRequested = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!paused) {
            if (!thread.isAlive() || System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
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
                if (reader.next(rec)) {
                    apply(rec);
                    replayedLsn = rec.lsn();
                } else if (armed.compareAndSet(false, true)) {
                    // Look again once the log says more is durable (or it already is).
                    txlog.whenDurableAfter(replayedLsn, () -> {
                        armed.set(false);
                        LockSupport.unpark(thread);
                    });
                } else {
                    LockSupport.parkNanos(IDLE_PARK_NANOS);
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

    private void apply(LogRecord rec) {
        switch (rec.op()) {
            case WRITE -> device.write(rec.offset(), rec.payload(), false).join();
            case ZERO -> device.writeZeroes(rec.offset(), rec.length(), false).join();
            case EPOCH -> {
                // a term boundary: nothing to apply
            }
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
