package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.dsl.Disruptor;
import com.lmax.disruptor.dsl.ProducerType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable transaction log of one resource.
 *
 * <p>Opening recovers the log ({@link #recovery()}). Any number of threads may then append: each
 * append is validated on the caller's thread (a bad request fails at once and changes nothing),
 * its payload checksummed there, and published into a multi-producer ring. One appender thread
 * writes the records and syncs once per batch; an append's callback or future completes only
 * after the sync covering it has returned. A failed append or sync fails the log for good
 * ({@link LogFailedException}).
 *
 * <p>The payload buffer of an append belongs to the log until the append completes: the caller
 * must not change it before then.
 */
public final class TransactionLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TransactionLog.class);
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final LogConfig config;
    private final SegmentLog store;
    private final LogAppender appender;
    private final Disruptor<AppendEvent> disruptor;
    private final RingBuffer<AppendEvent> ring;
    private final SpaceGuard space;
    private final ReadWriteLock closeLock = new ReentrantReadWriteLock();
    private volatile Thread appenderThread;
    private boolean closed;

    private TransactionLog(LogConfig config, SegmentLog store, SpaceGuard space) {
        this.config = config;
        this.store = store;
        this.space = space;
        this.appender = new LogAppender(store, config.syncObserver(), config.commitListener(), config.name(), config.ringSize(),
                this::wakeDurableWaiters);
        this.disruptor = new Disruptor<>(AppendEvent::new, config.ringSize(), r -> {
            Thread t = new Thread(Mdc.resource(config.name(), r), "tern-log-" + config.name());
            t.setDaemon(true);
            appenderThread = t;
            return t;
        }, ProducerType.MULTI, new BlockingWaitStrategy());
        disruptor.handleEventsWith(appender);
        disruptor.setDefaultExceptionHandler(appender.exceptionHandler);
        this.ring = disruptor.start();
    }

    /** Opens (creating if needed) and recovers the log in {@code config.directory()}. */
    public static TransactionLog open(LogConfig config) throws IOException {
        config.conclude();
        DurableFiles.createDirectories(config.directory());
        SpaceGuard space = new SpaceGuard(config.directory(), config.reserve());
        SegmentLog store = new SegmentLog(config, space);
        log.info("{}: {}", config.name(), store.recovery());
        try {
            return new TransactionLog(config, store, space);
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
    }

    public RecoveryReport recovery() {
        return store.recovery();
    }

    /**
     * Appends a record; {@code callback} is told once it is durable (with its LSN) or failed.
     *
     * @param length  device bytes covered: the payload's length for WRITE, the extent for ZERO, 0 for EPOCH
     * @throws IllegalArgumentException if a field is out of bounds (nothing is appended)
     * @throws LogFailedException       if the log has failed
     * @throws LogClosedException       if the log is closed
     */
    public void append(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload,
                       AppendCallback callback) {
        append(op, flags, epoch, offset, length, payload, true, callback);
    }

    /**
     * Appends a record; with {@code durable} false, {@code callback} is told as soon as the record
     * is written (readable, in LSN order) but before it is synced — it becomes durable, and
     * visible to {@link LogReader}s, with the next sync ({@link #sync()} or a durable append).
     */
    public void append(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload,
                       boolean durable, AppendCallback callback) {
        int crc = checkedCrc(op, flags, epoch, offset, length, payload);
        publish(op, flags, epoch, offset, length, payload, crc, durable, false, 0, callback, true);
    }

    /**
     * {@link #append(RecordOp, int, long, long, int, ByteBuffer, boolean, AppendCallback)} that
     * never waits: returns {@code false}, having done nothing, when the ring is full. For callers
     * that must not block (a Netty event loop); they hand the append to a thread that may wait.
     */
    public boolean tryAppend(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload,
                             boolean durable, AppendCallback callback) {
        int crc = checkedCrc(op, flags, epoch, offset, length, payload);
        return publish(op, flags, epoch, offset, length, payload, crc, durable, false, 0, callback, false);
    }

    /** Validates an append on the caller's thread and checksums its payload there. */
    private int checkedCrc(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload) {
        RecordCodec.validate(op, flags, epoch, 1, offset, length, payload.remaining());
        if (payload.remaining() > config.maxPayload()) {
            throw new IllegalArgumentException("payload of " + payload.remaining() + " bytes exceeds this log's maximum of "
                    + config.maxPayload() + " (what one segment holds)");
        }
        return RecordCodec.payloadCrc(payload);
    }

    /**
     * Appends a record received from the primary, as is: same bytes, same LSN, which must be the
     * next one here (else the callback gets {@link OutOfOrderException} and the log stays healthy).
     * The record is verified on the caller's thread first.
     *
     * @throws IllegalArgumentException if the record fails verification (nothing is appended)
     */
    public void appendReplica(ByteBuffer record, boolean durable, AppendCallback callback) {
        LogRecord decoded = new LogRecord();
        String problem = RecordCodec.decode(record, decoded);
        if (problem != null) {
            throw new IllegalArgumentException(config.name() + ": replica record refused: " + problem);
        }
        if (decoded.length() > config.maxPayload() && decoded.op() == RecordOp.WRITE) {
            throw new IllegalArgumentException(config.name() + ": replica record of " + decoded.length()
                    + " bytes exceeds this log's maximum payload " + config.maxPayload());
        }
        publish(decoded.op(), decoded.flags(), decoded.epoch(), decoded.offset(), decoded.length(), record.duplicate(),
                0, durable, false, decoded.lsn(), callback, true);
    }

    /**
     * Syncs every record appended before this call; the future completes with the durable LSN
     * once that sync has returned (at once, if nothing was waiting to be synced).
     */
    public CompletableFuture<Long> sync() {
        CompletableFuture<Long> f = new CompletableFuture<>();
        publish(null, 0, 0, 0, 0, null, 0, true, true, 0, (lsn, error) -> {
            if (error == null) {
                f.complete(lsn);
            } else {
                f.completeExceptionally(error);
            }
        }, true);
        return f;
    }

    /**
     * Claims a ring slot, fills it and publishes it; refuses when the log is closed or failed.
     * Without {@code wait}, returns false at once when the ring is full.
     */
    private boolean publish(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload, int crc,
                            boolean durable, boolean syncOnly, long replicaLsn, AppendCallback callback, boolean wait) {
        closeLock.readLock().lock();
        try {
            if (closed) {
                throw new LogClosedException(config.name() + ": log is closed");
            }
            LogFailedException failure = appender.failure();
            if (failure != null) {
                throw failure;
            }
            long seq;
            if (wait) {
                seq = ring.next();
            } else {
                try {
                    seq = ring.tryNext();
                } catch (com.lmax.disruptor.InsufficientCapacityException full) {
                    return false;
                }
            }
            AppendEvent e = ring.get(seq);
            e.op = op;
            e.flags = flags;
            e.epoch = epoch;
            e.offset = offset;
            e.length = length;
            e.payload = payload;
            e.payloadCrc = crc;
            e.durable = durable;
            e.syncOnly = syncOnly;
            e.replicaLsn = replicaLsn;
            e.callback = callback;
            ring.publish(seq);
            return true;
        } finally {
            closeLock.readLock().unlock();
        }
    }

    /** {@link #append} returning a future of the LSN, completed once the record is durable. */
    public CompletableFuture<Long> appendDurable(RecordOp op, int flags, long epoch, long offset, int length,
                                                 ByteBuffer payload) {
        CompletableFuture<Long> f = new CompletableFuture<>();
        append(op, flags, epoch, offset, length, payload, (lsn, error) -> {
            if (error == null) {
                f.complete(lsn);
            } else {
                f.completeExceptionally(error);
            }
        });
        return f;
    }

    /** Appends a WRITE of {@code data} at {@code offset}. */
    public CompletableFuture<Long> appendWrite(long epoch, long offset, ByteBuffer data, int flags) {
        return appendDurable(RecordOp.WRITE, flags, epoch, offset, data.remaining(), data);
    }

    /** Appends a ZERO of {@code length} bytes at {@code offset}. */
    public CompletableFuture<Long> appendZero(long epoch, long offset, int length, int flags) {
        return appendDurable(RecordOp.ZERO, flags, epoch, offset, length, EMPTY);
    }

    /**
     * Appends the EPOCH record that starts a term; {@code payload} says which history it
     * continues (the previous version's digest, then the primary's name).
     */
    public CompletableFuture<Long> appendEpoch(long epoch, byte[] payload) {
        return appendDurable(RecordOp.EPOCH, 0, epoch, 0, 0, ByteBuffer.wrap(payload.clone()));
    }

    private final java.util.concurrent.ConcurrentLinkedQueue<Runnable> durableWaiters =
            new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** A reader from {@code fromLsn}, which must lie in {@code [firstLsn, durableLsn + 1]}. */
    public LogReader reader(long fromLsn) {
        return store.newReader(fromLsn);
    }

    /** First LSN the log still holds ({@code durableLsn + 1} when it holds none). */
    public long firstLsn() {
        return store.firstLsn();
    }

    /** Last LSN that is durable. */
    public long durableLsn() {
        return store.durableLsn();
    }

    /** Last LSN appended, durable or not yet (at least {@link #durableLsn()}). */
    public long lastLsn() {
        return store.lastLsn();
    }

    /** Bytes of records made durable since this log was opened (for lag in bytes). */
    public long durableBytes() {
        return store.durableBytes();
    }

    /**
     * Runs {@code wakeup} once when records past {@code lsn} are durable: at once on the
     * caller's thread if they are already, else on the log's thread after its next sync. For
     * readers that follow the log (replay, shipping) instead of polling it; {@code wakeup} must
     * be short (unpark a thread, hand a task to an executor). Callers should keep one wakeup
     * armed at a time; a log that closes or fails does not run the ones left, so callers also
     * wake up on a timeout.
     */
    public void whenDurableAfter(long lsn, Runnable wakeup) {
        durableWaiters.add(wakeup);
        if (store.durableLsn() > lsn && durableWaiters.remove(wakeup)) {
            wakeup.run();
        }
    }

    private void wakeDurableWaiters() {
        for (Runnable r; (r = durableWaiters.poll()) != null; ) {
            r.run();
        }
    }

    /** Deletes the segments whose records all lie below {@code safeLsn}; returns how many. */
    public int deleteSegmentsBelow(long safeLsn) throws IOException {
        return store.deleteSegmentsBelow(safeLsn);
    }

    /**
     * The first LSN of each segment file the log holds, oldest first: the points where
     * {@link #deleteSegmentsBelow} can cut it. Each file takes the configured segment size.
     */
    public long[] segmentStarts() {
        return store.segmentStarts();
    }

    /** The error that failed the log, or {@code null} while it is healthy. */
    public LogFailedException failure() {
        return appender.failure();
    }

    /** Spare segments the appender had to prepare itself because none was ready ahead of it. */
    public long sparesPreparedOnAppender() {
        return store.sparesPreparedOnAppender();
    }

    /** Bytes usable now on the log's file system ({@link LogConfig#reserve} of them the log never takes). */
    public long usableSpace() throws java.io.IOException {
        return space.usableNow();
    }

    public LogConfig config() {
        return config;
    }

    /** Completes every append already accepted, then closes the segments. Idempotent. */
    @Override
    public void close() {
        closeLock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            closeLock.writeLock().unlock();
        }
        // Wait for the appender itself rather than Disruptor.shutdown(), whose backlog check
        // ignores a processor thread that has not started yet.
        long published = ring.getCursor();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (appender.processed() < published && System.nanoTime() < deadline) {
            LockSupport.parkNanos(100_000);
        }
        disruptor.halt();
        if (appender.processed() < published) {
            Thread t = appenderThread;
            try {
                if (t != null) {
                    t.join(5_000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t != null && t.isAlive()) {
                // Stuck inside a write or sync: leave its files to it.
                log.error("{}: the appender is stuck after 35 s; leaving its segments open", config.name());
                return;
            }
            LogClosedException closedError = new LogClosedException(config.name() + ": log closed before this append was written");
            for (long seq = appender.processed() + 1; seq <= published; seq++) {
                ring.get(seq).complete(-1, closedError);
            }
            log.error("{}: appends still pending 30 s into close were failed", config.name());
        }
        store.close();
    }
}
