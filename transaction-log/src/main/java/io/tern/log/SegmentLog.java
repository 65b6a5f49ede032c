package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The records of one log in segment files of its own ({@link Segment}), appended with gathering
 * positional writes into space prepared ahead ({@link SegmentPreparer}) and made durable by one
 * fdatasync per batch.
 *
 * <p>Thread contract: {@link #append}, {@link #appendEncoded}, {@link #flushWrites} and
 * {@link #syncDurable} are called by one thread only (the appender thread), which owns the tail
 * segment and the pending writes. {@link #newReader}, {@link #deleteSegmentsBelow} and the
 * getters may be called from any thread. Readers never see past {@link #durableLsn()}, and the
 * durable LSN moves only after the fdatasync covering it returned.
 *
 * <p>Appends of a batch are gathered (header and payload buffers, no copy) and written with one
 * gathering write at the batch's end, or earlier when the gather list fills or the tail rolls.
 */
final class SegmentLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SegmentLog.class);
    /** Buffers one gathering write takes before it is flushed (the kernel's IOV_MAX). */
    private static final int MAX_IOV = 1024;

    private final LogConfig config;
    private final Path dir;
    private final ConcurrentSkipListMap<Long, Segment> segments;
    private final SegmentPreparer preparer;
    private final RecoveryReport recovery;
    private final Object retentionLock = new Object();

    // Appender thread only.
    private Segment tail;
    private long writePos;
    private long iovStart;
    private final ByteBuffer[] iov = new ByteBuffer[MAX_IOV];
    private int iovCount;
    private final ByteBuffer headers = ByteBuffer.allocateDirect((MAX_IOV / 2 + 1) * RecordCodec.HEADER_LENGTH);
    private final ByteBuffer segmentHeader = ByteBuffer.allocateDirect(Segment.HEADER_LENGTH);
    private final List<Segment> unsynced = new ArrayList<>(2);
    private boolean directoryDirty;
    private long appendedBytes;
    private volatile long repeatsSkipped;

    private volatile long firstLsn;
    private volatile long lastLsn;
    private volatile long durableLsn;
    private volatile DurableMark durableMark;
    private volatile long durableBytes;

    SegmentLog(LogConfig config, SpaceGuard space) throws IOException {
        this.config = config;
        this.dir = config.directory();
        DurableFiles.createDirectories(dir);
        LogRecovery.refuseOtherFormats(dir);
        this.preparer = new SegmentPreparer(dir, config.segmentSize(), config.spareSegments(), config.recycleSegments(),
                space, config.name());
        try {
            LogRecovery.Result r = LogRecovery.recover(config);
            this.segments = r.segments();
            this.recovery = r.report();
            this.tail = segments.isEmpty() ? null : segments.lastEntry().getValue();
            this.writePos = r.tailEnd();
            this.iovStart = writePos;
            this.lastLsn = r.report().lastLsn();
            this.durableLsn = lastLsn;
            this.durableMark = new DurableMark(lastLsn, tail, writePos);
            this.firstLsn = segments.isEmpty() ? lastLsn + 1 : segments.firstKey();
        } catch (IOException | RuntimeException e) {
            preparer.close();
            throw e;
        }
    }

    RecoveryReport recovery() {
        return recovery;
    }

    /** First LSN still held (equals {@code lastLsn + 1} when the log holds nothing). */
    long firstLsn() {
        return firstLsn;
    }

    /** Last LSN appended (durable or not yet). */
    long lastLsn() {
        return lastLsn;
    }

    /** Last LSN covered by a completed sync. */
    long durableLsn() {
        return durableLsn;
    }

    /** Bytes of records (headers and payloads) durable since this log was opened. */
    long durableBytes() {
        return durableBytes;
    }

    String name() {
        return config.name();
    }

    /** The segment holding {@code lsn}, or {@code null} if none does. */
    Segment segmentFor(long lsn) {
        Map.Entry<Long, Segment> e = segments.floorEntry(lsn);
        return e == null ? null : e.getValue();
    }

    /** The segment after {@code s}, or {@code null}. */
    Segment segmentAfter(Segment s) {
        Map.Entry<Long, Segment> e = segments.higherEntry(s.firstLsn());
        return e == null ? null : e.getValue();
    }

    // ------------------------------------------------------------------ appending (appender thread)

    /**
     * Appends one record with the next LSN: gathered now, written by {@link #flushWrites} at the
     * latest, durable once {@link #syncDurable()} returns.
     *
     * @return the record's LSN
     * @throws LogFullException if the tail is full and no new segment can be had (nothing changes)
     */
    long append(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload, int payloadCrc)
            throws IOException {
        long lsn = lastLsn + 1;
        int size = RecordCodec.HEADER_LENGTH + payload.remaining();
        ensureRoom(size, lsn, payload.hasRemaining() ? 2 : 1);
        ByteBuffer header = headers.slice(headers.position(), RecordCodec.HEADER_LENGTH);
        RecordCodec.encodeHeader(header, op, flags, epoch, lsn, durableLsn, offset, length, payload.remaining(),
                payloadCrc);
        headers.position(headers.position() + RecordCodec.HEADER_LENGTH);
        iov[iovCount++] = header.flip();
        if (payload.hasRemaining()) {
            iov[iovCount++] = payload.duplicate();
        }
        return appended(lsn, size);
    }

    /**
     * Appends a record encoded elsewhere — a secondary storing its primary's records, same bytes
     * and same LSNs. The caller has verified it.
     *
     * A record this log holds already (received again after a reconnect) is compared with the
     * one stored: skipped if byte-identical, refused if not.
     *
     * @throws OutOfOrderException      if {@code lsn} leaves a gap (nothing is written)
     * @throws ReplicaConflictException if a record received again differs from the one stored
     */
    long appendEncoded(ByteBuffer record, long lsn) throws IOException {
        if (lsn <= lastLsn) {
            return repeated(record, lsn);
        }
        if (lsn != lastLsn + 1) {
            throw new OutOfOrderException(config.name() + ": record lsn " + lsn + " arrived where " + (lastLsn + 1)
                    + " is next");
        }
        ensureRoom(record.remaining(), lsn, 1);
        int size = record.remaining();
        iov[iovCount++] = record.duplicate();
        return appended(lsn, size);
    }

    /** A record received again: its LSN if it equals the one stored, else a conflict. */
    private long repeated(ByteBuffer record, long lsn) throws IOException {
        if (lsn < firstLsn) {
            repeatsSkipped++;
            return lsn; // retired here long ago: applied, and nothing left to compare it with
        }
        flushWrites(); // the stored copy may still be gathered
        Segment s = segmentFor(lsn);
        long[] floor = s.floor(lsn);
        long pos = floor[1];
        ByteBuffer h = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH);
        for (long l = floor[0]; ; l++) {
            h.clear();
            Segment.readFully(s.channel(), h, pos);
            h.flip();
            String problem = RecordCodec.checkHeader(h);
            if (problem != null || RecordCodec.lsnOf(h) != l) {
                throw new LogCorruptedException(config.name() + ": record lsn " + l + " in " + s + " at offset " + pos
                        + " cannot be read to compare a repeat: " + (problem != null ? problem : "found another lsn"), l);
            }
            if (l == lsn) {
                break;
            }
            pos += RecordCodec.recordLength(h);
        }
        int length = RecordCodec.recordLength(h);
        ByteBuffer mine = ByteBuffer.allocate(length);
        Segment.readFully(s.channel(), mine, pos);
        if (!mine.flip().equals(record)) {
            throw new ReplicaConflictException(config.name() + ": record lsn " + lsn + " received again differs from "
                    + "the one this log holds: the two histories diverge at or before it", lsn);
        }
        repeatsSkipped++;
        return lsn;
    }

    /** Records received again and skipped because they were identical to the stored ones. */
    long repeatsSkipped() {
        return repeatsSkipped;
    }

    private long appended(long lsn, int size) {
        tail.indexed(lsn, writePos);
        writePos += size;
        appendedBytes += size;
        lastLsn = lsn;
        return lsn;
    }

    /** Makes room for a record of {@code size} bytes and {@code buffers} gather entries. */
    private void ensureRoom(int size, long lsn, int buffers) throws IOException {
        if (tail == null || writePos + size > tail.size()) {
            roll(lsn);
        } else if (iovCount + buffers > MAX_IOV || headers.remaining() < RecordCodec.HEADER_LENGTH) {
            flushWrites();
        }
    }

    /** Seals the tail and continues in a spare renamed after {@code lsn}, its first record. */
    private void roll(long lsn) throws IOException {
        Path spare = preparer.take(); // may refuse with LogFullException: nothing has changed yet
        flushWrites();
        Path path = dir.resolve(Segment.fileName(lsn));
        Files.move(spare, path, StandardCopyOption.ATOMIC_MOVE);
        directoryDirty = true;
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        Segment next = new Segment(path, lsn, ch.size(), ch);
        if (tail != null) {
            tail.seal(writePos);
            unsynced.add(tail);
        }
        segments.put(lsn, next);
        if (firstLsn > lsn) {
            firstLsn = lsn;
        }
        tail = next;
        segmentHeader.clear();
        Segment.encodeHeader(segmentHeader, next.size(), lsn);
        iov[iovCount++] = segmentHeader.flip();
        iovStart = 0;
        writePos = Segment.HEADER_LENGTH;
    }

    /** Writes every gathered record into the tail with one gathering write (looping on short writes). */
    void flushWrites() throws IOException {
        if (iovCount == 0) {
            return;
        }
        FileChannel ch = tail.channel();
        ch.position(iovStart);
        int first = 0;
        while (first < iovCount) {
            ch.write(iov, first, iovCount - first);
            while (first < iovCount && !iov[first].hasRemaining()) {
                iov[first++] = null;
            }
        }
        iovCount = 0;
        headers.clear();
        iovStart = writePos;
    }

    /**
     * Makes every record appended so far durable: writes what is gathered, fdatasyncs every
     * segment sealed since the last sync and the tail, and the folder when a segment appeared.
     */
    void syncDurable() throws IOException {
        flushWrites();
        long last = lastLsn;
        synchronized (retentionLock) {
            // A sealed segment the checkpointer retired meanwhile is closed, and may be a spare
            // already: skip it. Every record in it lies below a checkpoint, and a checkpoint never
            // passes the durable LSN, so the sync of an earlier batch covered all of them.
            for (Segment s : unsynced) {
                if (segments.get(s.firstLsn()) == s) {
                    s.channel().force(false);
                }
            }
            unsynced.clear();
        }
        if (tail != null) {
            tail.channel().force(false);
        }
        if (directoryDirty) {
            DurableFiles.syncDirectory(dir);
            directoryDirty = false;
        }
        durableBytes = appendedBytes;
        durableMark = new DurableMark(last, tail, writePos);
        durableLsn = last;
    }

    /**
     * Where the durable records end: the last durable LSN, the segment holding it and the byte
     * position just past it there. Published after each sync, before {@link #durableLsn()}.
     */
    record DurableMark(long lsn, Segment segment, long position) {
    }

    DurableMark durableMark() {
        return durableMark;
    }

    // ------------------------------------------------------------------ reading and retention

    /** A reader that starts at {@code fromLsn} ({@code firstLsn <= fromLsn <= durableLsn + 1}). */
    LogReader newReader(long fromLsn) {
        long first = firstLsn;
        long durable = durableLsn;
        if (fromLsn < first || fromLsn > durable + 1) {
            throw new LogException(config.name() + ": cannot read from lsn " + fromLsn + "; the log holds "
                    + first + ".." + durable);
        }
        return new LogReader(this, fromLsn);
    }

    /**
     * Deletes (or recycles as spares) every segment whose records all lie below {@code safeLsn}:
     * those followed by a segment starting at or below it. The tail is never deleted.
     *
     * @return the number of segments retired
     */
    int deleteSegmentsBelow(long safeLsn) throws IOException {
        synchronized (retentionLock) {
            List<Segment> retired = new ArrayList<>();
            for (Map.Entry<Long, Segment> e : segments.entrySet()) {
                Map.Entry<Long, Segment> next = segments.higherEntry(e.getKey());
                if (next == null || next.getKey() > safeLsn) {
                    break;
                }
                retired.add(e.getValue());
            }
            if (retired.isEmpty()) {
                return 0;
            }
            // Forget them first, so no new reader is placed in a segment about to go.
            for (Segment s : retired) {
                segments.remove(s.firstLsn());
            }
            firstLsn = segments.firstKey();
            List<Path> spares = new ArrayList<>();
            for (Segment s : retired) {
                s.close();
                Path spare = preparer.retire(s.path());
                if (spare != null) {
                    spares.add(spare);
                }
            }
            DurableFiles.syncDirectory(dir);
            preparer.offer(spares); // only now: their old names are gone for good
            log.info("{}: retired {} segments below lsn {}; log now starts at lsn {}", config.name(), retired.size(),
                    safeLsn, firstLsn);
            return retired.size();
        }
    }

    /** The first LSN of each segment the log holds, oldest first (the tail's included). */
    long[] segmentStarts() {
        return segments.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    /** Spare segments prepared on the appender thread because none was ready. */
    long sparesPreparedOnAppender() {
        return preparer.preparedOnAppender();
    }

    @Override
    public void close() {
        preparer.close();
        for (Segment s : segments.values()) {
            try {
                s.close();
            } catch (IOException e) {
                log.warn("{}: closing {}: {}", config.name(), s, e.toString());
            }
        }
    }
}
