package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the segments of a log and establishes what the disk really holds: scans every record in
 * LSN order, verifies headers everywhere and payloads from the recovery point on, and stops at
 * the first record that is bad or missing. What it does there depends on what follows:
 *
 * <ul>
 *   <li>An intact record further on whose committed field is at least the bad record's LSN proves
 *       that the bad record had been made durable (and so acknowledged) before that record was
 *       written: acknowledged data is corrupt. Recovery refuses with a
 *       {@link LogCorruptedException} naming the LSN and the repair, and changes nothing.</li>
 *   <li>Otherwise the bad record is a torn tail: the last batch was being written when the
 *       machine stopped, and nothing in it had been acknowledged. The rest of its segment is
 *       zeroed, later segments are deleted, and both are synced.</li>
 * </ul>
 *
 * <p>A record below the recovery point (the caller's checkpoint) is durable by definition, so a
 * bad one there is corruption whatever follows. A replica log holds its primary's bytes, whose
 * committed fields speak of the primary's syncs, not this log's: there every bad tail is cut,
 * and the records are fetched from the primary again.
 *
 * <p>Finally every segment from the recovery point on is fdatasync'd, and the folder: after a
 * kill -9 the accepted tail may still be only in the page cache, and nothing may be shipped or
 * replayed that a power cut could still take back.
 */
final class LogRecovery {
    private static final Logger log = LoggerFactory.getLogger(LogRecovery.class);
    private static final int WINDOW = 1 << 20;

    record Result(ConcurrentSkipListMap<Long, Segment> segments, long tailEnd, RecoveryReport report) {
    }

    private final LogConfig config;
    private final List<Segment> segments = new ArrayList<>();
    private ByteBuffer window = ByteBuffer.allocate(WINDOW);
    private Segment windowSegment;
    private long windowStart;
    private int windowLength;

    private LogRecovery(LogConfig config) {
        this.config = config;
    }

    /** Refuses a folder that holds a log in a format this version does not read. */
    static void refuseOtherFormats(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String f = p.getFileName().toString();
                if (f.endsWith(".cq4") || f.endsWith(".cq4t") || f.equals("cuts")) {
                    throw new LogException(dir + " holds a transaction log in the old Chronicle Queue format (" + f
                            + "); this version keeps its log in segment files and does not read the old format. "
                            + "Move the resource's folder away and create or join the resource again.");
                }
            }
        }
    }

    static Result recover(LogConfig config) throws IOException {
        return new LogRecovery(config).run();
    }

    private Result run() throws IOException {
        openSegments();
        long from = config.recoverFromLsn();
        if (segments.isEmpty()) {
            long last = Math.max(config.firstLsn(), Math.max(from, 1)) - 1;
            return result(0, new RecoveryReport(last + 1, last, 0, false, 0, 0, null));
        }
        long first = segments.get(0).firstLsn();
        if (from == 0) {
            from = first;
        }
        if (from < first) {
            throw closing(new LogCorruptedException(config.name() + ": recovery must start at lsn " + from
                    + " but the log starts at " + first + "; the records in between were deleted", from));
        }
        long expected = first;
        long verified = 0;
        LogRecord record = new LogRecord();
        String firstHeader = Segment.checkHeader(segments.get(0).channel(), segments.get(0).size(), first);
        if (firstHeader != null) {
            return end(0, Segment.HEADER_LENGTH, expected, from, verified, firstHeader, true);
        }
        for (int i = 0; ; i++) {
            Segment s = segments.get(i);
            long pos = Segment.HEADER_LENGTH;
            while (true) {
                ByteBuffer h = at(s, pos, RecordCodec.HEADER_LENGTH);
                String problem = RecordCodec.checkHeader(h);
                if (problem == null && RecordCodec.lsnOf(h) != expected) {
                    problem = "lsn " + RecordCodec.lsnOf(h) + " where " + expected + " was expected";
                }
                // Read before at() refills the window under h.
                int length = problem == null ? RecordCodec.recordLength(h) : 0;
                if (problem == null && expected >= from) {
                    ByteBuffer whole = at(s, pos, length);
                    problem = whole.remaining() < length ? "record runs past the end of its segment"
                            : RecordCodec.decode(whole.slice(whole.position(), length), record);
                }
                if (problem == null) {
                    s.indexed(expected, pos);
                    pos += length;
                    if (expected >= from) {
                        verified++;
                    }
                    expected++;
                    continue;
                }
                Segment next = i + 1 < segments.size() ? segments.get(i + 1) : null;
                if (next != null && next.firstLsn() == expected
                        && Segment.checkHeader(next.channel(), next.size(), next.firstLsn()) == null) {
                    s.seal(pos);
                    break;
                }
                return end(i, pos, expected, from, verified, problem, false);
            }
        }
    }

    /**
     * The scan found no record {@code expected} at {@code (segment i, pos)}: the end of the log.
     * Refuses if acknowledged data is damaged there; otherwise zeroes whatever the torn last
     * batch left past it (records of this log's life: LSN at least {@code expected}; stale
     * records of a recycled segment have lower LSNs and stay), deletes later segments, and syncs.
     *
     * @param dropSelf the segment's own header is bad (only for the first segment): it goes too
     */
    private Result end(int i, long pos, long expected, long from, long verified, String problem, boolean dropSelf)
            throws IOException {
        Segment s = segments.get(i);
        Evidence ev = new Evidence();
        scanForLater(s, pos, expected, ev);
        long tornEnd = ev.tornEnd;
        ev.tornEnd = -1; // later segments are deleted whole
        for (int j = i + 1; j < segments.size(); j++) {
            scanForLater(segments.get(j), Segment.HEADER_LENGTH, expected, ev);
        }
        if (expected < from) {
            if (ev.records == 0 && i == segments.size() - 1 && !dropSelf) {
                throw closing(new LogCorruptedException(config.name() + ": recovery point lsn " + from
                        + " is past the end of the log (last lsn " + (expected - 1) + ")", from));
            }
            throw closing(corrupt(s, pos, expected, problem, "it lies below the checkpoint (lsn " + (from - 1)
                    + "), so it was durable and acknowledged"));
        }
        if (ev.proofLsn > 0 && !config.replica()) {
            throw closing(corrupt(s, pos, expected, problem, "record lsn " + ev.proofLsn
                    + " further on was written when lsn " + ev.proofCommitted + " was already durable"));
        }
        List<Segment> dropped = new ArrayList<>(segments.subList(dropSelf ? i : i + 1, segments.size()));
        long cutBytes = 0;
        if (!dropSelf && tornEnd > pos) {
            cutBytes += zero(s, pos, tornEnd);
        }
        for (Segment d : dropped) {
            cutBytes += d.size();
            d.close();
            Files.delete(d.path());
            segments.remove(d);
        }
        long tailEnd = pos;
        if (dropSelf) {
            tailEnd = 0;
            if (!segments.isEmpty()) {
                Segment t = segments.get(segments.size() - 1);
                tailEnd = t.sealedEnd();
                t.seal(-1);
            }
        }
        boolean cut = ev.records > 0 || !dropped.isEmpty();
        if (cut) {
            DurableFiles.syncDirectory(config.directory());
            log.warn("{}: torn tail at {} offset {} where lsn {} was expected: {}; cut {} records past it ({} bytes "
                            + "zeroed or deleted, {} segments deleted)", config.name(), s, pos, expected, problem,
                    ev.records, cutBytes, dropped.size());
        }
        syncFrom(from);
        return result(tailEnd, new RecoveryReport(from, expected - 1, verified, cut, ev.records, cutBytes,
                cut ? problem : null));
    }

    private LogCorruptedException corrupt(Segment s, long pos, long lsn, String problem, String why) {
        return new LogCorruptedException(config.name() + ": record lsn " + lsn + " in " + config.directory()
                .resolve(s.toString()) + " at offset " + pos + " is damaged (" + problem + ") and " + why
                + ": acknowledged data is corrupt. Nothing was changed. Repair: discard this node's copy and "
                + "resync it from a peer (tern invalidate)", lsn);
    }

    /** What lies past the end of the scan. */
    private static final class Evidence {
        /** Intact headers with an LSN at or past the expected one: records of a torn last batch. */
        long records;
        /** Where the last of them ends, in the bad segment (0: none there; -1: not tracked). */
        long tornEnd;
        /** The first of them whose committed field proves the expected LSN was durable (0: none). */
        long proofLsn;
        long proofCommitted;
    }

    /** Looks at every byte offset from {@code pos} for an intact header past {@code expected}. */
    private void scanForLater(Segment s, long pos, long expected, Evidence ev) throws IOException {
        long end = s.size() - RecordCodec.HEADER_LENGTH;
        while (pos <= end) {
            ByteBuffer w = at(s, pos, RecordCodec.HEADER_LENGTH);
            int base = w.position();
            int limit = w.limit() - RecordCodec.HEADER_LENGTH;
            int k = base;
            for (; k <= limit; k++) {
                // Zeros (the usual rest of a segment) hold no magic: no byte of "TRNR" is zero, so
                // no record can start at any of these eight positions.
                while (k + 8 <= limit && w.getLong(k) == 0) {
                    k += 8;
                }
                if (w.getInt(k) != RecordCodec.MAGIC) {
                    continue;
                }
                ByteBuffer h = w.duplicate().position(k);
                if (RecordCodec.checkHeader(h) == null && RecordCodec.lsnOf(h) >= expected) {
                    ev.records++;
                    if (ev.tornEnd >= 0) {
                        ev.tornEnd = Math.max(ev.tornEnd, Math.min(s.size(),
                                windowStart + k + RecordCodec.recordLength(h)));
                    }
                    long committed = RecordCodec.committedOf(h);
                    if (committed >= expected && ev.proofLsn == 0) {
                        ev.proofLsn = RecordCodec.lsnOf(h);
                        ev.proofCommitted = committed;
                    }
                }
            }
            pos += Math.max(1, k - base);
        }
    }

    /** Zeroes {@code [from, to)} of {@code s} and syncs it; returns the bytes zeroed. */
    private long zero(Segment s, long from, long to) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(WINDOW);
        for (long p = from; p < to; ) {
            zeros.clear().limit((int) Math.min(WINDOW, to - p));
            p += s.channel().write(zeros, p);
        }
        windowSegment = null;
        s.channel().force(false);
        return to - from;
    }

    /**
     * A view of at least {@code length} bytes of {@code s} from {@code pos} (fewer at the file's
     * end), positioned at {@code pos}, through a window refilled by sequential reads.
     */
    private ByteBuffer at(Segment s, long pos, int length) throws IOException {
        if (s != windowSegment || pos < windowStart || pos + length > windowStart + windowLength) {
            if (window.capacity() < length) {
                window = ByteBuffer.allocate(length);
            }
            window.clear().limit(Math.max(Math.min(WINDOW, window.capacity()), length));
            Segment.readFully(s.channel(), window, pos);
            windowSegment = s;
            windowStart = pos;
            windowLength = window.position();
        }
        int off = (int) (pos - windowStart);
        return window.duplicate().order(ByteOrder.LITTLE_ENDIAN).limit(windowLength).position(Math.min(off, windowLength));
    }

    /** Opens every segment file, in LSN order. */
    private void openSegments() throws IOException {
        TreeMap<Long, Path> found = new TreeMap<>();
        try (var files = Files.list(config.directory())) {
            for (Path p : (Iterable<Path>) files::iterator) {
                long lsn = Segment.parseName(p.getFileName().toString());
                if (lsn > 0) {
                    found.put(lsn, p);
                }
            }
        }
        try {
            for (var e : found.entrySet()) {
                FileChannel ch = FileChannel.open(e.getValue(), StandardOpenOption.READ, StandardOpenOption.WRITE);
                segments.add(new Segment(e.getValue(), e.getKey(), ch.size(), ch));
            }
        } catch (IOException | RuntimeException e) {
            closeAll();
            throw e;
        }
    }

    /** fdatasyncs every segment holding records from {@code from} on, then the folder. */
    private void syncFrom(long from) throws IOException {
        for (int i = 0; i < segments.size(); i++) {
            Segment next = i + 1 < segments.size() ? segments.get(i + 1) : null;
            if (next == null || next.firstLsn() > from) {
                segments.get(i).channel().force(false);
            }
        }
        DurableFiles.syncDirectory(config.directory());
    }

    private Result result(long tailEnd, RecoveryReport report) {
        ConcurrentSkipListMap<Long, Segment> map = new ConcurrentSkipListMap<>();
        for (Segment s : segments) {
            map.put(s.firstLsn(), s);
        }
        return new Result(map, tailEnd, report);
    }

    private RuntimeException closing(RuntimeException e) {
        closeAll();
        return e;
    }

    private void closeAll() {
        for (Segment s : segments) {
            try {
                s.close();
            } catch (IOException e) {
                log.warn("{}: closing {}: {}", config.name(), s, e.toString());
            }
        }
    }
}
