package io.tern.log;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentSkipListMap;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The records of one log in a Chronicle Queue, whose roll cycles are the log's segments.
 *
 * <p>Thread contract: {@link #append} and {@link #syncDurable} are called by one thread only (the
 * appender thread); {@link #newReader}, {@link #deleteSegmentsBelow} and the getters may be called
 * from any thread. Readers never see a record above {@link #durableLsn()}.
 *
 * <p>LSN &harr; queue index: LSNs are dense, and so are queue indices inside a cycle, so the
 * log is a sequence of <em>runs</em> in which both advance together. A run starts at the first
 * record of a segment and at the record that resumes after a cut; {@link #runs} maps each run's
 * first LSN to its index, and {@code index(lsn) = runStartIndex + (lsn - runStartLsn)}.
 */
final class SegmentStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SegmentStore.class);

    private final LogConfig config;
    private final SingleChronicleQueue queue;
    private final RollCycle rollCycle;
    private final CutList cuts;
    private final ConcurrentSkipListMap<Long, Long> runs = new ConcurrentSkipListMap<>();
    private final RecoveryReport recovery;
    private final Object retentionLock = new Object();

    // Appender thread only.
    private ExcerptAppender appender;
    private final ByteBuffer header = ByteBuffer.allocateDirect(RecordCodec.HEADER_LENGTH);
    private CutList.Cut pendingCut;
    private int appendCycle = Integer.MIN_VALUE;
    private FileChannel appendFile;
    /** Segment files left since the last sync: synced and closed by the next one. */
    private final List<FileChannel> leftUnsynced = new ArrayList<>(2);
    private boolean newFileSinceSync;

    private volatile long firstLsn;
    private volatile long lastLsn;
    private volatile long durableLsn;
    private long appendedBytes;
    private volatile long durableBytes;

    SegmentStore(LogConfig config) throws IOException {
        this.config = config;
        Path dir = config.directory();
        Files.createDirectories(dir);
        this.rollCycle = config.rollCycle();
        this.queue = SingleChronicleQueueBuilder.binary(dir)
                .rollCycle(rollCycle)
                .timeProvider(() -> config.clock().millis())
                .blockSize(config.blockSize())
                .syncMode(SyncMode.SYNC)
                .build();
        try {
            this.cuts = CutList.load(dir);
            // A cut whose whole dead zone was deleted by retention (a crash came before the cut
            // list was trimmed) no longer describes anything in the queue.
            long firstIndex = queue.firstIndex();
            if (firstIndex != Long.MAX_VALUE) {
                cuts.dropBefore(firstIndex);
            }
            this.recovery = recover();
            this.firstLsn = runs.isEmpty() ? recovery.lastLsn() + 1 : runs.firstKey();
            this.lastLsn = recovery.lastLsn();
            this.durableLsn = lastLsn;
            DurableFiles.syncDirectory(dir);
        } catch (RuntimeException | IOException e) {
            queue.close();
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

    // ------------------------------------------------------------------ recovery

    private RecoveryReport recover() throws IOException {
        long unreadable = walkRuns();
        long from = config.recoverFromLsn();
        if (runs.isEmpty() && unreadable >= 0) {
            // No record of the log can be read: cut everything, resume where the caller says.
            long resume = Math.max(config.firstLsn(), Math.max(from, 1));
            try (QueueCursor cursor = new QueueCursor(queue)) {
                cursor.moveToIndex(unreadable);
                cursor.next();
                return cutAt(cursor, resume, resume - 1, 0, "no record of the log is readable");
            }
        }
        if (runs.isEmpty()) {
            long last = Math.max(config.firstLsn(), Math.max(from, 1)) - 1;
            return new RecoveryReport(last + 1, last, 0, false, 0, 0, null);
        }
        long first = runs.firstKey();
        if (from == 0) {
            from = first;
        }
        if (from < first) {
            throw new LogCorruptedException(config.name() + ": recovery must start at lsn " + from
                    + " but the log starts at " + first + "; the records in between were deleted", from);
        }
        // Start on the record before the recovery point when there is one, so that a point just
        // past the end (nothing to replay) is found by reading a record that exists.
        long scanStart = from > first ? from - 1 : from;
        long expected = scanStart;
        long verified = 0;
        LogRecord record = new LogRecord();
        try (QueueCursor cursor = new QueueCursor(queue)) {
            if (!cursor.moveToIndex(indexOf(scanStart))) {
                throw new LogCorruptedException(config.name() + ": recovery point lsn " + from
                        + " is past the end of the log", from);
            }
            while (cursor.next()) {
                long index = cursor.index();
                if (cuts.covering(index) != null) {
                    continue;
                }
                String problem = cursor.decode(record);
                if (problem == null && record.lsn() != expected) {
                    problem = "lsn " + record.lsn() + " where " + expected + " was expected";
                }
                if (problem != null) {
                    return cutAt(cursor, from, expected - 1, verified, problem);
                }
                expected++;
                verified++;
            }
        }
        return new RecoveryReport(from, expected - 1, verified, false, 0, 0, null);
    }

    /** Records a durable cut at the cursor's bad excerpt and counts what it discards. */
    private RecoveryReport cutAt(QueueCursor cursor, long from, long lastGood, long verified, String problem)
            throws IOException {
        long badIndex = cursor.index();
        long excerpts = 1;
        long bytes = cursor.length();
        while (cursor.next()) {
            excerpts++;
            bytes += cursor.length();
        }
        pendingCut = cuts.add(badIndex, lastGood + 1);
        log.warn("{}: torn or corrupt record at queue index {} (expected lsn {}): {}; cut {} excerpts ({} bytes)",
                config.name(), Long.toHexString(badIndex), lastGood + 1, problem, excerpts, bytes);
        return new RecoveryReport(from, lastGood, verified, true, excerpts, bytes, problem);
    }

    /**
     * Finds the start of every run: the first live record of each segment, and the resume record
     * of each cut. A run start it cannot read is noted and skipped: recovery cuts there if its
     * scan reaches it, and readers refuse it.
     *
     * @return the index of the first unreadable run start, or -1
     */
    private long walkRuns() {
        int firstCycle = queue.firstCycle();
        int lastCycle = queue.lastCycle();
        if (firstCycle == Integer.MAX_VALUE || lastCycle < firstCycle) {
            return -1;
        }
        NavigableSet<Long> cycles = queue.listCyclesBetween(firstCycle, lastCycle);
        List<CutList.Cut> pending = new ArrayList<>(cuts.cuts());
        LogRecord record = new LogRecord();
        long unreadable = -1;
        try (QueueCursor cursor = new QueueCursor(queue)) {
            long resumedAt = -1;
            for (long c : cycles) {
                int cycle = (int) c;
                if (resumedAt >= 0 && rollCycle.toCycle(resumedAt) > cycle) {
                    continue; // passed over while looking for a resume record
                }
                long pos = resumedAt >= 0 && rollCycle.toCycle(resumedAt) == cycle ? resumedAt : rollCycle.toIndex(cycle, 0);
                resumedAt = -1;
                while (true) {
                    if (!cursor.moveToIndex(pos) || !cursor.next()) {
                        break; // empty segment
                    }
                    CutList.Cut cut = pending.isEmpty() ? null : pending.get(0);
                    if (cut != null && cut.fromIndex <= cursor.index()) {
                        pending.remove(0);
                        long resume = findResume(cursor, cut, record);
                        if (resume < 0) {
                            pendingCut = cut; // dead to the end: the next append resumes it
                            return unreadable;
                        }
                        cut.resumeIndex = resume;
                        runs.put(cut.resumeLsn, resume);
                        if (rollCycle.toCycle(resume) != cycle) {
                            resumedAt = resume;
                            break;
                        }
                        pos = resume;
                        continue;
                    }
                    if (cursor.decode(record) != null) {
                        // A damaged run start: note it (recovery cuts there if it scans that far,
                        // readers refuse it) and find the next readable record of this segment.
                        if (unreadable < 0) {
                            unreadable = cursor.index();
                        }
                        log.warn("{}: unreadable record at queue index 0x{}", config.name(),
                                Long.toHexString(cursor.index()));
                        if (!skipToReadable(cursor, record, cycle, cut)) {
                            if (cut != null && rollCycle.toCycle(cut.fromIndex) == cycle
                                    && cursor.index() >= cut.fromIndex) {
                                pos = cut.fromIndex;
                                continue;
                            }
                            break;
                        }
                    }
                    runs.put(record.lsn(), cursor.index());
                    // Does a cut start later in this segment? Then the run ends there.
                    if (cut != null && rollCycle.toCycle(cut.fromIndex) == cycle) {
                        pos = cut.fromIndex;
                        continue;
                    }
                    break;
                }
            }
        }
        return unreadable;
    }

    /**
     * Moves the cursor to the next decodable record of {@code cycle}, stopping before the next
     * cut; false if there is none.
     */
    private boolean skipToReadable(QueueCursor cursor, LogRecord record, int cycle, CutList.Cut nextCut) {
        while (cursor.next()) {
            long index = cursor.index();
            if (rollCycle.toCycle(index) != cycle || (nextCut != null && index >= nextCut.fromIndex)) {
                return false;
            }
            if (cursor.decode(record) == null) {
                return true;
            }
        }
        return false;
    }

    /** Scans from the cursor's excerpt (the start of a dead zone) for the cut's resume record. */
    private static long findResume(QueueCursor cursor, CutList.Cut cut, LogRecord record) {
        do {
            if (cursor.index() >= cut.fromIndex && cursor.decode(record) == null && record.lsn() == cut.resumeLsn) {
                return cursor.index();
            }
        } while (cursor.next());
        return -1;
    }

    /** Queue index of a live record. The caller guarantees {@code firstLsn <= lsn <= lastLsn}. */
    long indexOf(long lsn) {
        Map.Entry<Long, Long> run = runs.floorEntry(lsn);
        if (run == null) {
            throw new LogException("lsn " + lsn + " is below the first record of the log");
        }
        return run.getValue() + (lsn - run.getKey());
    }

    /** Whether the excerpt at {@code index} is dead (inside a cut). */
    boolean isCut(long index) {
        return !cuts.cuts().isEmpty() && cuts.covering(index) != null;
    }

    // ------------------------------------------------------------------ appending (appender thread)

    /**
     * Appends one record with the next LSN; not durable until {@link #syncDurable()} returns.
     *
     * @return the record's LSN
     */
    long append(RecordOp op, int flags, long epoch, long offset, int length, ByteBuffer payload, int payloadCrc) {
        long lsn = lastLsn + 1;
        header.clear();
        RecordCodec.encodeHeader(header, op, flags, epoch, lsn, offset, length, payload.remaining(), payloadCrc);
        header.flip();
        appendedBytes += RecordCodec.HEADER_LENGTH + payload.remaining();
        write(header, payload.duplicate());
        return appended(lsn);
    }

    /**
     * Appends a record encoded elsewhere — a secondary storing its primary's records, same bytes
     * and same LSNs. The caller has verified it.
     *
     * @throws OutOfOrderException if {@code lsn} is not the next LSN (nothing is written)
     */
    long appendEncoded(ByteBuffer record, long lsn) {
        if (lsn != lastLsn + 1) {
            throw new OutOfOrderException(config.name() + ": record lsn " + lsn + " arrived where " + (lastLsn + 1)
                    + " is next");
        }
        appendedBytes += record.remaining();
        write(record.duplicate(), null);
        return appended(lsn);
    }

    private void write(ByteBuffer first, ByteBuffer second) {
        if (appender == null) {
            appender = queue.createAppender();
            appender.singleThreadedCheckDisabled(true);
        }
        try (DocumentContext dc = appender.writingDocument()) {
            try {
                Bytes<?> bytes = dc.wire().bytes();
                writeFully(bytes, first);
                if (second != null) {
                    writeFully(bytes, second);
                }
            } catch (RuntimeException e) {
                dc.rollbackOnClose();
                throw e;
            }
        }
    }

    /** Bookkeeping after a record with {@code lsn} was written: runs, segment files, last LSN. */
    private long appended(long lsn) {
        long index = appender.lastIndexAppended();
        int cycle = rollCycle.toCycle(index);
        if (cycle != appendCycle || pendingCut != null) {
            if (pendingCut != null) {
                pendingCut.resumeIndex = index;
                pendingCut = null;
            }
            runs.put(lsn, index);
            if (cycle != appendCycle) {
                switchFile(cycle);
            }
        }
        lastLsn = lsn;
        return lsn;
    }

    private static void writeFully(Bytes<?> bytes, ByteBuffer src) {
        while (src.hasRemaining()) {
            int before = src.remaining();
            bytes.writeSome(src);
            if (src.remaining() == before) {
                throw new IllegalStateException("segment refused " + before + " more bytes of a record");
            }
        }
    }

    private void switchFile(int cycle) {
        try {
            if (appendFile != null) {
                leftUnsynced.add(appendFile);
            }
            File file = appender.currentFile();
            appendFile = FileChannel.open(file.toPath(), StandardOpenOption.READ);
            appendCycle = cycle;
            newFileSinceSync = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open segment file for cycle " + cycle, e);
        }
    }

    /**
     * Makes every record appended so far durable: fdatasync of every segment file written since
     * the last sync (usually one), and of the folder when a new file appeared. Not Chronicle's
     * {@code appender.sync()}: its msync covers only the current mapped chunk, and a failing msync
     * is only logged by Chronicle, never thrown, so an ack could follow a sync that failed.
     * fdatasync flushes the pages written through the mapping just the same, and its error
     * reaches us.
     */
    void syncDurable() throws IOException {
        long last = lastLsn;
        while (!leftUnsynced.isEmpty()) {
            FileChannel f = leftUnsynced.get(0);
            f.force(false);
            leftUnsynced.remove(0);
            f.close();
        }
        if (appendFile != null) {
            appendFile.force(false);
        }
        if (newFileSinceSync) {
            DurableFiles.syncDirectory(config.directory());
            newFileSinceSync = false;
        }
        durableBytes = appendedBytes;
        durableLsn = last;
    }

    /** Bytes of records (headers and payloads) durable since this log was opened. */
    long durableBytes() {
        return durableBytes;
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
        QueueCursor cursor = new QueueCursor(queue);
        try {
            if (fromLsn > first) {
                // Position on the record before and consume it: safe even if the next record lands in a new segment.
                long prev = fromLsn - 1;
                if (!cursor.moveToIndex(indexOf(prev))) {
                    throw new LogException(config.name() + ": lsn " + prev + " is not at its index");
                }
                LogReader reader = new LogReader(this, cursor, prev, config.name());
                if (!reader.next(new LogRecord())) {
                    throw new LogException(config.name() + ": lsn " + prev + " cannot be read");
                }
                return reader;
            }
            if (runs.isEmpty()) {
                cursor.toStart();
            } else if (!cursor.moveToIndex(indexOf(fromLsn))) {
                throw new LogException(config.name() + ": lsn " + fromLsn + " is no longer in the log");
            }
            return new LogReader(this, cursor, fromLsn, config.name());
        } catch (RuntimeException e) {
            cursor.close();
            throw e;
        }
    }

    /**
     * Deletes every segment whose records are all below {@code safeLsn}. The segment being
     * appended to is never deleted.
     *
     * @return the number of segments deleted
     */
    int deleteSegmentsBelow(long safeLsn) throws IOException {
        synchronized (retentionLock) {
            Map.Entry<Long, Long> keep = runs.floorEntry(safeLsn);
            if (keep == null) {
                return 0;
            }
            int keepCycle = rollCycle.toCycle(keep.getValue());
            int firstCycle = queue.firstCycle();
            if (firstCycle >= keepCycle) {
                return 0;
            }
            List<File> files = new ArrayList<>();
            try (var tailer = queue.createTailer()) {
                tailer.singleThreadedCheckDisabled(true);
                for (long c : queue.listCyclesBetween(firstCycle, keepCycle - 1)) {
                    if (tailer.moveToCycle((int) c) && tailer.currentFile() != null) {
                        files.add(tailer.currentFile());
                    }
                }
            }
            // Save what the cuts learnt first: if a crash comes after the deletes, the next open
            // can tell which cuts described only deleted segments.
            cuts.saveResumeIndices();
            // Forget the runs, so no new reader is placed in a segment about to go.
            runs.entrySet().removeIf(run -> rollCycle.toCycle(run.getValue()) < keepCycle);
            long newFirst = runs.firstKey();
            firstLsn = newFirst;
            for (File f : files) {
                Files.deleteIfExists(f.toPath());
            }
            DurableFiles.syncDirectory(config.directory());
            queue.refreshDirectoryListing();
            cuts.dropBefore(rollCycle.toIndex(keepCycle, 0));
            log.info("{}: deleted {} segments below lsn {}; log now starts at lsn {}", config.name(), files.size(),
                    safeLsn, newFirst);
            return files.size();
        }
    }

    @Override
    public void close() {
        try {
            if (appendFile != null) {
                appendFile.close();
            }
            for (FileChannel f : leftUnsynced) {
                f.close();
            }
        } catch (IOException e) {
            log.warn("{}: closing segment file: {}", config.name(), e.toString());
        }
        if (appender != null) {
            appender.close();
        }
        queue.close();
    }
}
