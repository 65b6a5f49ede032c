package io.tern.block.logged;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.log.LogClosedException;
import io.tern.log.LogConfig;
import io.tern.log.LogFailedException;
import io.tern.log.LogFullException;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.RecordCodec;
import io.tern.log.RecordOp;
import io.tern.log.RecoveryReport;
import io.tern.log.TransactionLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The facade: a block device whose writes go through the transaction log. In the default
 * {@link Durability#SYNC} mode a write is appended and synced (group commit), then applied to the
 * backing store, and only then completed — so a completed write is durable (in the log) and
 * visible to reads (in the backing store's page cache); FLUSH has nothing left to do, FUA is
 * implied. In {@link Durability#FLUSH} mode a write completes once appended and applied; FLUSH
 * and FUA sync the log (and a timer does, every sync interval). Flush mode keeps an
 * {@link ActivityLog}, so that after a power cut the extents whose writes the log may have lost
 * are re-logged from the backing store, and the log again describes the image.
 *
 * <p>Records are applied by the {@link Applier}'s own thread, in LSN order, so overlapping writes
 * land in the order they were logged and the log's appender never waits for the backing store.
 * Appending never blocks the caller: when the log's ring is full, the append is handed to a
 * thread that may wait. A checkpointer syncs the backing store periodically and then records the
 * last applied LSN ({@link Checkpoint}); opening replays the log from there, so a crash at any
 * moment loses no completed write. Replay is idempotent. WRITE_ZEROES and TRIM become ZERO
 * records, applied with the backing store's zeroing (fallocate where it can).
 *
 * <p>A backing store that refuses a record with ENOSPC (a sparse file on a full file system) or
 * EIO stalls the device instead ({@link #problem()}): the record is durable in the log, so
 * nothing acknowledged is lost, but it is not applied, and neither is any record after it.
 * While stalled, new writes, trims and zeroings fail at once with that error and never reach
 * the log; writes already on their way are logged and fail too (their ranges then hold either
 * content, as for any failed write). The applier retries from the log — the refused record
 * first, in LSN order — after a second, doubling up to 30 s ({@code Applier.FIRST_RETRY},
 * {@code MAX_RETRY}); once the store takes them all the device takes writes again by itself. Opening a device whose store refuses the records to replay opens it stalled the same
 * way (unless the activity log names extents to re-log: their content is only known once the
 * replay is complete, so that open fails, and succeeds once the store has room).
 *
 * <p>A failed log append, log sync or backing sync, or any other backing write error, fails the
 * device for good (state {@code Failed}): every later request fails with EIO; nothing is retried.
 */
public final class LoggedDevice implements BlockDevice {
    private static final Logger log = LoggerFactory.getLogger(LoggedDevice.class);
    /** Largest extent one ZERO record covers; larger zeroing requests become several records. */
    private static final long MAX_ZERO_RECORD = 1L << 30;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final LoggedDeviceConfig config;
    private final BlockDevice backing;
    private final TransactionLog txlog;
    private final RecoveryReport recovery;
    private final long replayed;
    private final ScheduledExecutorService checkpointer;
    private final Applier applier;
    private final ActivityLog activity;
    /** Runs appends that found the log's ring full, so that no caller ever waits for room. */
    private final java.util.concurrent.ExecutorService overflow;
    private final Object checkpointLock = new Object();
    private volatile long appliedLsn;
    /** Writes between their check and their completion: a freeze waits for them. */
    private final java.util.concurrent.atomic.AtomicInteger writesInFlight = new java.util.concurrent.atomic.AtomicInteger();
    /** Why new writes are refused (a primary handing over), or {@code null}. */
    private volatile String frozen;
    /** The epoch stamped on new records: the current term's ({@link #startEpoch}). */
    private volatile long epoch;
    private volatile long checkpointLsn;
    private volatile Throwable failure;
    private volatile boolean closed;
    private volatile long overflowed;
    /** The backing store refused a record: new writes are refused and the applier retries; else {@code null}. */
    private volatile Stall stall;
    // Applier thread only: the last LSN handed to it (or found in the log at open), the next retry.
    private long handedLsn;
    private long retryAt;
    private long retryNanos;

    /** Why the device is stalled: the record the backing store refused, and its error. */
    private record Stall(long lsn, BlockError error, String reason) {
        BlockDeviceException refusal() {
            return new BlockDeviceException(error, reason);
        }
    }

    private LoggedDevice(LoggedDeviceConfig config, TransactionLog txlog, long appliedLsn, long replayed,
                         ActivityLog activity, Stall stall) {
        this.config = config;
        this.epoch = config.epoch();
        this.activity = config.durability() == Durability.FLUSH ? activity : null;
        this.stall = stall;
        this.handedLsn = stall == null ? appliedLsn : txlog.durableLsn();
        this.retryNanos = stall == null ? 0 : Applier.FIRST_RETRY.toNanos();
        this.retryAt = System.nanoTime() + retryNanos;
        this.overflow = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(io.tern.log.Mdc.resource(config.log().name(), r), "tern-append-wait-" + config.log().name());
            t.setDaemon(true);
            return t;
        });
        this.backing = config.backing();
        this.txlog = txlog;
        this.recovery = txlog.recovery();
        this.appliedLsn = appliedLsn;
        this.checkpointLsn = appliedLsn;
        this.replayed = replayed;
        // Its thread starts here and reads the fields above: after them.
        this.applier = new Applier(config.log().name(), config.log().ringSize(), this::applyBatch, this::retryStalled);
        this.checkpointer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(io.tern.log.Mdc.resource(config.log().name(), r), "tern-checkpoint-" + config.log().name());
            t.setDaemon(true);
            return t;
        });
        long ms = config.checkpointInterval().toMillis();
        checkpointer.scheduleWithFixedDelay(this::checkpointQuietly, ms, ms, TimeUnit.MILLISECONDS);
        if (config.durability() == Durability.FLUSH) {
            long sync = config.syncInterval().toMillis();
            checkpointer.scheduleWithFixedDelay(this::syncQuietly, sync, sync, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Opens the device: recovers the log from the checkpoint, re-applies every record after it
     * to the backing store, re-logs the extents the activity log names (writes a power cut may
     * have taken from the log but not from the store), syncs the store and moves the checkpoint.
     */
    public static LoggedDevice open(LoggedDeviceConfig config) throws IOException {
        config.conclude();
        Checkpoint cp = Checkpoint.load(config.checkpointFile());
        LogConfig logConfig = config.log().recoverFromLsn(cp.lsn() == 0 ? 0 : cp.lsn() + 1);
        TransactionLog txlog = TransactionLog.open(logConfig);
        try {
            long from = Math.max(cp.lsn() + 1, txlog.firstLsn());
            long applied = cp.lsn();
            long count = 0;
            Stall stall = null;
            LogRecord rec = new LogRecord();
            try (LogReader reader = txlog.reader(from)) {
                while (stall == null && reader.next(rec)) {
                    try {
                        apply(config.backing(), rec);
                        applied = rec.lsn();
                        count++;
                    } catch (BlockDeviceException e) {
                        if (!stalls(e)) {
                            throw e;
                        }
                        stall = stall(rec.lsn(), e);
                    }
                }
            }
            ActivityLog activity = ActivityLog.load(config.activityLogFile(), ActivityLog.DEFAULT_EXTENT,
                    config.activityLogExtents());
            if (stall != null && !activity.extents().isEmpty()) {
                throw new IOException(logConfig.name() + ": " + stall.reason() + "; the activity log's "
                        + activity.extents().size() + " extents can be re-logged only once the replay is complete, so "
                        + "the device opens once the backing store has room again");
            }
            long relogged = stall == null ? relog(config, txlog, activity) : 0;
            if (relogged > 0) {
                applied = txlog.durableLsn(); // the re-logged records hold what the store holds
            }
            await(config.backing().flush());
            if (applied != cp.lsn()) {
                new Checkpoint(config.epoch(), applied).store(config.checkpointFile());
            }
            log.info("{}: {}; replayed {} records onto the backing store; re-logged {} extents of the activity log; "
                    + "checkpoint at lsn {}", logConfig.name(), txlog.recovery(), count, relogged, applied);
            if (stall != null) {
                log.warn("{}: opened stalled, writes are refused: {}", logConfig.name(), stall.reason());
            }
            return new LoggedDevice(config, txlog, applied, count, activity, stall);
        } catch (IOException | RuntimeException e) {
            txlog.close();
            throw e;
        }
    }

    /**
     * Appends the current contents of every extent the activity log names as fresh WRITE records,
     * syncs them, and empties the activity log. Returns how many extents were re-logged.
     */
    private static long relog(LoggedDeviceConfig config, TransactionLog txlog, ActivityLog activity) throws IOException {
        var extents = activity.extents();
        if (extents.isEmpty()) {
            return 0;
        }
        BlockDevice backing = config.backing();
        int chunk = (int) Math.min(activity.extentSize(), Integer.highestOneBit(txlog.config().maxPayload()));
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        for (long e : extents) {
            long start = e * activity.extentSize();
            long end = Math.min(backing.size(), start + activity.extentSize());
            for (long off = start; off < end; off += chunk) {
                int len = (int) Math.min(chunk, end - off);
                buf.clear().limit(len);
                await(backing.read(off, buf));
                buf.flip();
                txlog.appendWrite(config.epoch(), off, buf, 0).join();
            }
        }
        activity.clear();
        return extents.size();
    }

    private static void apply(BlockDevice backing, LogRecord rec) {
        switch (rec.op()) {
            case WRITE -> await(backing.write(rec.offset(), rec.payload(), false));
            case ZERO -> await(backing.writeZeroes(rec.offset(), rec.length(), false));
            case EPOCH -> {
                // a term boundary: nothing to apply
            }
        }
    }

    /** What the log's recovery found when the device was opened. */
    public RecoveryReport recovery() {
        return recovery;
    }

    /** Records re-applied to the backing store when the device was opened. */
    public long replayed() {
        return replayed;
    }

    /** Last LSN durable in the log. */
    public long loggedLsn() {
        return txlog.durableLsn();
    }

    /** Last LSN applied to the backing store. */
    /**
     * Starts a term: appends the EPOCH record {@code payload} describes, durable when the future
     * completes, and stamps {@code epoch} on every record appended after this call. Called while
     * no writes are in flight (before the device is served, or after they drained).
     */
    public java.util.concurrent.CompletableFuture<Long> startEpoch(long epoch, byte[] payload) {
        this.epoch = epoch;
        return txlog.appendEpoch(epoch, payload);
    }

    /** The epoch stamped on new records. */
    public long epoch() {
        return epoch;
    }

    public long appliedLsn() {
        return appliedLsn;
    }

    /** Last LSN whose application is durable in the backing store. */
    public long checkpointLsn() {
        return checkpointLsn;
    }

    /** The error that failed the device, or {@code null} while it is healthy. */
    public Throwable failure() {
        return failure;
    }

    /**
     * Why writes are refused for now — the backing store refuses a record, which the applier
     * retries — or {@code null}. Not a failure: the device recovers by itself.
     */
    public String problem() {
        Stall s = stall;
        return s == null ? null : s.reason();
    }

    public TransactionLog log() {
        return txlog;
    }

    /** Appends that found the log's ring full and were handed to the overflow thread. */
    public long overflowedAppends() {
        return overflowed;
    }

    /** How often flush mode's activity log was rewritten (0 in sync mode). */
    public long activityLogWrites() {
        return activity == null ? 0 : activity.rewrites();
    }

    @Override
    public long size() {
        return backing.size();
    }

    @Override
    public boolean isReadOnly() {
        return backing.isReadOnly();
    }

    @Override
    public boolean canFlush() {
        return true;
    }

    @Override
    public boolean canFua() {
        return true;
    }

    @Override
    public boolean canTrim() {
        return true;
    }

    @Override
    public boolean canZero() {
        return true;
    }

    @Override
    public boolean canMultiConn() {
        return true; // every completed write is durable, whichever connection sent it
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        Throwable f = failure;
        if (f != null) {
            return failed(BlockError.EIO, "device has failed: " + f.getMessage(), f);
        }
        return backing.read(offset, dst);
    }

    /**
     * Refuses every new write, trim and zeroing with EPERM ({@code why} in the message), waits
     * until the writes already accepted completed, and syncs the log: when this returns, the
     * log ends at the returned LSN and nothing more will be appended until {@link #thaw}.
     *
     * @throws IllegalStateException if writes in flight do not complete within {@code timeout}
     */
    public long freeze(String why, java.time.Duration timeout) throws InterruptedException {
        frozen = why;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (writesInFlight.get() > 0) {
            if (System.nanoTime() > deadline) {
                frozen = null;
                throw new IllegalStateException(writesInFlight.get() + " writes still in flight after "
                        + timeout.toSeconds() + " s");
            }
            Thread.sleep(1);
        }
        try {
            return txlog.sync().get(timeout.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            frozen = null;
            throw new IllegalStateException("the log could not be synced: " + e, e);
        }
    }

    /** Takes writes again after {@link #freeze}. */
    public void thaw() {
        frozen = null;
    }

    /** Why writes are refused now, or {@code null}. */
    public String frozen() {
        return frozen;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int length = src.remaining();
        writesInFlight.incrementAndGet();
        CompletableFuture<Void> result = writeCounted(offset, src, fua, length);
        result.whenComplete((v, e) -> writesInFlight.decrementAndGet());
        return result;
    }

    private CompletableFuture<Void> writeCounted(long offset, ByteBuffer src, boolean fua, int length) {
        try {
            checkWritable(offset, length);
            if (length > txlog.config().maxPayload()) {
                return failed(BlockError.EOVERFLOW, "write of " + length + " bytes exceeds the maximum of "
                        + txlog.config().maxPayload(), null);
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            append(new Applier.Task(RecordOp.WRITE, offset, length, src.duplicate(), done), fua);
            return done;
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(translate(e));
        }
    }

    /**
     * Appends a task's record without ever waiting: when the ring is full the append goes to the
     * overflow thread, which may wait. The log's callback hands the task to the applier.
     */
    private void append(Applier.Task task, boolean fua) {
        int flags = fua ? RecordCodec.FLAG_FUA : 0;
        ByteBuffer payload = task.op == RecordOp.WRITE ? task.data : EMPTY;
        io.tern.log.AppendCallback callback = (lsn, error) -> {
            task.lsn = lsn;
            task.error = error;
            applier.submit(task);
        };
        if (!txlog.tryAppend(task.op, flags, epoch, task.offset, task.length, payload, durable(fua), callback)) {
            overflowed++;
            try {
                overflow.execute(() -> {
                    try {
                        txlog.append(task.op, flags, epoch, task.offset, task.length, payload, durable(fua),
                                callback);
                    } catch (RuntimeException e) {
                        task.done.completeExceptionally(translate(e));
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                throw new BlockDeviceException(BlockError.ESHUTDOWN, "device is closing");
            }
        }
    }

    /** Whether an append must be synced before it completes. */
    private boolean durable(boolean fua) {
        return fua || config.durability() == Durability.SYNC;
    }

    @Override
    public CompletableFuture<Void> flush() {
        Throwable f = failure;
        if (f != null) {
            return failed(BlockError.EIO, "device has failed", f);
        }
        if (config.durability() == Durability.SYNC) {
            return CompletableFuture.completedFuture(null); // every completed write is durable already
        }
        try {
            // Syncs every record appended before now, so every write completed before the flush.
            return txlog.sync().handle((lsn, error) -> {
                if (error != null) {
                    fail(error);
                    throw translate(error);
                }
                return null;
            });
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(translate(e));
        }
    }

    private void syncQuietly() {
        if (failure == null && !closed) {
            flush().exceptionally(e -> null);
        }
    }

    /**
     * Trim becomes ZERO records like WRITE_ZEROES: the range reads back as zeros here and on
     * every secondary (NBD allows that for a trimmed range), and the backing store deallocates or
     * zeroes it without writing data.
     */
    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return writeZeroes(offset, length, fua);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        writesInFlight.incrementAndGet();
        CompletableFuture<Void> result = zeroCounted(offset, length, fua);
        result.whenComplete((v, e) -> writesInFlight.decrementAndGet());
        return result;
    }

    private CompletableFuture<Void> zeroCounted(long offset, long length, boolean fua) {
        try {
            checkWritable(offset, length);
            if (length == 0) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<?>[] parts = new CompletableFuture<?>[(int) ((length + MAX_ZERO_RECORD - 1) / MAX_ZERO_RECORD)];
            for (int i = 0; i < parts.length; i++) {
                long off = offset + i * MAX_ZERO_RECORD;
                int len = (int) Math.min(MAX_ZERO_RECORD, offset + length - off);
                CompletableFuture<Void> part = new CompletableFuture<>();
                append(new Applier.Task(RecordOp.ZERO, off, len, null, part), fua);
                parts[i] = part;
            }
            return CompletableFuture.allOf(parts);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(translate(e));
        }
    }

    /**
     * Runs on the applier's thread, in LSN order: records the batch's extents in the activity log
     * (flush mode), applies each record to the backing store, then completes its write.
     */
    private void applyBatch(java.util.List<Applier.Task> batch) {
        if (activity != null && failure == null) {
            try {
                admitToActivityLog(batch);
            } catch (IOException | RuntimeException e) {
                fail(e);
            }
        }
        for (Applier.Task t : batch) {
            if (t.error != null) {
                if (!(t.error instanceof LogFullException)) {
                    fail(t.error); // a refused record fails alone; any other error fails the device
                }
                t.done.completeExceptionally(translate(t.error));
                continue;
            }
            handedLsn = t.lsn;
            Throwable f = failure;
            if (f != null) {
                t.done.completeExceptionally(translate(f));
                continue;
            }
            Stall s = stall;
            if (s != null) {
                // Logged behind the refused record: applied after it, once the store takes it.
                t.done.completeExceptionally(s.refusal());
                continue;
            }
            try {
                if (t.op == RecordOp.WRITE) {
                    await(backing.write(t.offset, t.data.duplicate(), false));
                } else {
                    await(backing.writeZeroes(t.offset, t.length, false));
                }
                appliedLsn = t.lsn;
                t.done.complete(null);
            } catch (BlockDeviceException e) {
                if (stalls(e)) {
                    stall = stall(t.lsn, e);
                    retryNanos = Applier.FIRST_RETRY.toNanos();
                    retryAt = System.nanoTime() + retryNanos;
                    log.warn("{}: device stalled, writes are refused: {}", config.log().name(), stall.reason());
                    t.done.completeExceptionally(stall.refusal());
                } else {
                    fail(e);
                    t.done.completeExceptionally(translate(e));
                }
            } catch (RuntimeException e) {
                fail(e);
                t.done.completeExceptionally(translate(e));
            }
        }
    }

    /** Whether the backing store's error stalls the device rather than failing it: it may pass. */
    private static boolean stalls(BlockDeviceException e) {
        return e.error() == BlockError.ENOSPC || e.error() == BlockError.EIO;
    }

    private static Stall stall(long lsn, BlockDeviceException e) {
        return new Stall(lsn, e.error(), "the backing store refuses lsn " + lsn + " (" + e.error() + ": "
                + e.getMessage() + "); writes are refused until it takes it again, which is retried; every write "
                + "acknowledged before is in the log" + (e.error() == BlockError.ENOSPC
                ? "; free space on the backing store's file system" : "; check the backing store"));
    }

    /**
     * The applier's idle hook: when stalled and the backoff has passed, applies the log's records
     * from the refused one to the last one handed over, in order. All applied: writes are taken
     * again. Refused again: the wait doubles, up to {@code Applier.MAX_RETRY}.
     */
    private void retryStalled() {
        Stall s = stall;
        if (s == null || failure != null || System.nanoTime() - retryAt < 0) {
            return;
        }
        long durable = txlog.durableLsn();
        long trying = appliedLsn + 1;
        try (LogReader reader = txlog.reader(trying)) {
            LogRecord rec = new LogRecord();
            while (appliedLsn < handedLsn && reader.next(rec) && rec.lsn() <= handedLsn) {
                trying = rec.lsn();
                apply(backing, rec);
                appliedLsn = rec.lsn();
            }
            if (appliedLsn < handedLsn) {
                // Flush mode: handed over but not yet durable, so not yet readable. Sync, look again soon.
                txlog.sync();
                retryAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Applier.IDLE_MILLIS);
                log.debug("{}: retry applied up to lsn {} of {} (durable {})", config.log().name(), appliedLsn,
                        handedLsn, durable);
                return;
            }
            stall = null;
            retryNanos = 0;
            log.info("{}: the backing store takes records again (applied up to lsn {}); writes are taken again",
                    config.log().name(), appliedLsn);
        } catch (BlockDeviceException e) {
            if (!stalls(e)) {
                fail(e);
                return;
            }
            stall = stall(trying, e);
            retryNanos = Math.min(2 * retryNanos, Applier.MAX_RETRY.toNanos());
            retryAt = System.nanoTime() + retryNanos;
            log.debug("{}: still stalled: {}", config.log().name(), e.getMessage());
        } catch (RuntimeException e) {
            fail(e); // the log cannot give the records back: nothing to retry with
        }
    }

    /** Flush mode: the batch's extents go into the durable activity log before any is applied. */
    private void admitToActivityLog(java.util.List<Applier.Task> batch) throws IOException {
        int n = batch.size();
        long[] offsets = new long[n];
        long[] lengths = new long[n];
        long[] lsns = new long[n];
        int count = 0;
        for (Applier.Task t : batch) {
            if (t.error == null) {
                offsets[count] = t.offset;
                lengths[count] = t.length;
                lsns[count] = t.lsn;
                count++;
            }
        }
        while (!activity.admit(offsets, lengths, lsns, count, txlog.durableLsn())) {
            // Every extent in the file still has writes the log has not synced: sync, then retry.
            txlog.sync().join();
        }
    }

    private void checkWritable(long offset, long length) {
        Throwable f = failure;
        if (f != null) {
            throw new BlockDeviceException(BlockError.EIO, "device has failed: " + f.getMessage(), f);
        }
        if (closed) {
            throw new BlockDeviceException(BlockError.ESHUTDOWN, "device is closing");
        }
        if (backing.isReadOnly()) {
            throw new BlockDeviceException(BlockError.EPERM, "device is read-only");
        }
        String why = frozen;
        if (why != null) {
            throw new BlockDeviceException(BlockError.EPERM, why);
        }
        Stall s = stall;
        if (s != null) {
            throw s.refusal();
        }
        BlockDevice.checkRange(offset, length, backing.size(), true);
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t;
            log.error("{}: device failed and takes no more writes: {}", config.log().name(), t.toString(), t);
        }
    }

    /**
     * Waits for a backing store operation. The file backend completes before it returns, so on
     * the log's thread this does not block; a decorator that delays does delay the log.
     */
    private static void await(CompletableFuture<Void> f) {
        try {
            f.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof BlockDeviceException b ? b
                    : new BlockDeviceException(BlockError.EIO, String.valueOf(e.getCause()), e.getCause());
        }
    }

    private static BlockDeviceException translate(Throwable t) {
        if (t instanceof BlockDeviceException b) {
            return b;
        }
        if (t instanceof LogClosedException) {
            return new BlockDeviceException(BlockError.ESHUTDOWN, t.getMessage(), t);
        }
        if (t instanceof IllegalArgumentException) {
            return new BlockDeviceException(BlockError.EINVAL, t.getMessage(), t);
        }
        if (t instanceof LogFailedException) {
            return new BlockDeviceException(BlockError.EIO, t.getMessage(), t);
        }
        if (t instanceof LogFullException) {
            return new BlockDeviceException(BlockError.ENOSPC, t.getMessage(), t);
        }
        return new BlockDeviceException(BlockError.EIO, String.valueOf(t.getMessage()), t);
    }

    private static CompletableFuture<Void> failed(BlockError error, String message, Throwable cause) {
        return CompletableFuture.failedFuture(new BlockDeviceException(error, message, cause));
    }

    /**
     * Syncs the backing store and moves the checkpoint to the last applied LSN, then deletes the
     * log segments below both it and what others still need ({@link LoggedDeviceConfig#retainFrom}).
     */
    public void checkpoint() throws IOException {
        checkpoint(true);
    }

    /** Runs a {@link #checkpoint()} on the checkpointer's thread now, rather than at the next interval. */
    public void checkpointSoon() {
        try {
            checkpointer.execute(this::checkpointQuietly);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing: close() checkpoints
        }
    }

    private void checkpoint(boolean trimLog) throws IOException {
        synchronized (checkpointLock) {
            // Never past what the log holds durably: a checkpoint beyond it would outlive the records.
            long lsn = Math.min(appliedLsn, txlog.durableLsn());
            if (failure != null) {
                return;
            }
            if (lsn != checkpointLsn) {
                try {
                    await(backing.flush());
                } catch (BlockDeviceException e) {
                    fail(e);
                    throw e;
                }
                new Checkpoint(epoch, lsn).store(config.checkpointFile());
                checkpointLsn = lsn;
            }
            // Even when the checkpoint stands still: what others need may have moved (a primary going Ahead).
            if (trimLog) {
                long below = Math.min(lsn + 1, config.retainFrom().getAsLong());
                if (below > txlog.firstLsn()) {
                    txlog.deleteSegmentsBelow(below);
                }
            }
        }
    }

    private void checkpointQuietly() {
        checkpointQuietly(true);
    }

    private void checkpointQuietly(boolean trimLog) {
        try {
            checkpoint(trimLog);
        } catch (IOException | RuntimeException e) {
            log.error("{}: checkpoint failed: {}", config.log().name(), e.toString(), e);
        }
    }

    /** Completes the writes already accepted, checkpoints, and closes log and backing store. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // No interrupts: an interrupted FileChannel closes itself, which would fail the device.
        checkpointer.shutdown();
        try {
            checkpointer.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean allDurable = false;
        if (txlog.failure() == null && config.durability() == Durability.FLUSH) {
            try {
                txlog.sync().get(30, TimeUnit.SECONDS); // a clean stop loses nothing, flushed or not
                allDurable = true;
            } catch (Exception e) {
                log.error("{}: final sync failed: {}", config.log().name(), e.toString());
            }
        }
        overflow.shutdown();
        try {
            overflow.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        txlog.close(); // completes every append already accepted, handing each to the applier
        applier.close(); // applies them
        if (activity != null && allDurable && failure == null && txlog.durableLsn() == txlog.lastLsn()) {
            try {
                activity.clear(); // every applied write is in the log: nothing to re-log at the next open
            } catch (IOException e) {
                log.warn("{}: clearing the activity log: {}", config.log().name(), e.toString());
            }
        }
        checkpointQuietly(false); // the log is closed: trimming waits for the next checkpoint
        backing.close();
    }
}
