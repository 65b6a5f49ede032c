package io.tern.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;

/**
 * Reads a log's records in LSN order from any starting LSN and follows its tail: {@link #next}
 * returns {@code false} when no further <em>durable</em> record exists yet, and {@code true} once
 * one does. A record that has been appended but not yet synced is never returned, so nothing
 * downstream (shipping, replay) can act on a record a crash could still take back.
 *
 * <p>Records are read with positional reads of the segment files into a window of this reader's
 * own (read ahead, one copy out of the page cache), so the appender's writes never move under a
 * record being verified. Every record is verified (both checksums, bounds, and that its LSN is
 * the one expected); a bad record raises {@link LogCorruptedException} and its bytes are never
 * returned. A record's payload is a view of the window, valid until the next call to
 * {@link #next}.
 *
 * <p>Thread contract: a reader is used by one thread at a time; many readers may run at once.
 */
public final class LogReader implements AutoCloseable {
    private static final int READ_AHEAD = 256 << 10;

    private final SegmentLog store;
    private ByteBuffer window = ByteBuffer.allocate(READ_AHEAD);
    private Segment segment;
    private long position;
    private long windowStart;
    private int windowLength;
    private long nextLsn;
    private long caughtUp;
    private boolean closed;

    LogReader(SegmentLog store, long nextLsn) {
        this.store = store;
        this.nextLsn = nextLsn;
    }

    /** The LSN the next call to {@link #next} will return. */
    public long nextLsn() {
        return nextLsn;
    }

    /**
     * Fills {@code into} with the next durable record.
     *
     * @return false if there is none yet (call again later)
     * @throws LogCorruptedException if the next record fails verification
     * @throws LogException          if the segment holding it was deleted by retention
     */
    public boolean next(LogRecord into) {
        if (closed) {
            throw new LogClosedException(store.name() + ": reader is closed");
        }
        if (nextLsn > store.durableLsn()) {
            return false;
        }
        try {
            if (segment == null) {
                locate();
            } else if (position == segment.sealedEnd()) {
                Segment next = store.segmentAfter(segment);
                if (next == null || next.firstLsn() != nextLsn) {
                    throw new LogCorruptedException(store.name() + ": " + segment + " ends before lsn " + nextLsn
                            + " and no segment starts there", nextLsn);
                }
                segment = next;
                position = Segment.HEADER_LENGTH;
            }
            String problem = read(into, false);
            if (problem != null) {
                // The window may have been read before the appender wrote this record: read again.
                problem = read(into, true);
            }
            if (problem != null) {
                throw new LogCorruptedException(store.name() + ": record in " + segment + " at offset " + position
                        + " where lsn " + nextLsn + " was expected is bad: " + problem, nextLsn);
            }
            position += into.encoded().remaining();
            nextLsn++;
            return true;
        } catch (ClosedChannelException e) {
            throw new LogException(store.name() + ": the segment holding lsn " + nextLsn + " was retired while "
                    + "being read", e);
        } catch (IOException e) {
            throw new UncheckedIOException(store.name() + ": reading lsn " + nextLsn + " from " + segment, e);
        }
    }

    /**
     * A run of durable record bytes in one segment file, to be sent as they are (sendfile): whole
     * records back to back, but a run may end inside a record when it reaches {@code maxBytes};
     * the next run goes on from there. A reader used for runs tracks bytes, not records: do not
     * mix {@link #next} and {@code nextRun} on one reader. Record headers are not verified here;
     * the receiver verifies every record, as it does any record from the wire.
     *
     * @return the next run, or {@code null} when every durable byte has been returned
     */
    public Run nextRun(int maxBytes) {
        if (closed) {
            throw new LogClosedException(store.name() + ": reader is closed");
        }
        SegmentLog.DurableMark mark = store.durableMark();
        try {
            if (segment == null) {
                if (nextLsn > mark.lsn()) {
                    caughtUp = nextLsn - 1;
                    return null;
                }
                locate();
            }
            if (position == segment.sealedEnd()) {
                Segment next = store.segmentAfter(segment);
                if (next == null) {
                    caughtUp = mark.lsn();
                    return null; // sealed, and the next segment's first record is not durable yet
                }
                segment = next;
                position = Segment.HEADER_LENGTH;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(store.name() + ": locating lsn " + nextLsn, e);
        }
        long end;
        if (segment == mark.segment()) {
            end = mark.position();
        } else if (mark.segment() != null && segment.firstLsn() < mark.segment().firstLsn()) {
            end = segment.sealedEnd(); // older than the mark's segment: synced whole
        } else {
            // Newer than the durable mark's segment: nothing in it is durable yet, even when it is
            // already sealed (the tail rolled more than once since the last sync).
            caughtUp = mark.lsn();
            return null;
        }
        if (position >= end) {
            caughtUp = mark.lsn();
            return null;
        }
        int length = (int) Math.min(end - position, maxBytes);
        Run run = new Run(segment.path(), position, length,
                segment == mark.segment() && position + length == end ? mark.lsn() : -1);
        position += length;
        return run;
    }

    /**
     * After {@link #nextRun} returned {@code null}: the LSN through which every durable record
     * has been returned in runs.
     */
    public long runsCaughtUpTo() {
        return caughtUp;
    }

    /**
     * Bytes {@code [position, position + length)} of the segment file {@code file}.
     *
     * @param endsAtLsn the LSN of the record the run ends with, when it ends at the durable mark; else -1
     */
    public record Run(java.nio.file.Path file, long position, int length, long endsAtLsn) {
    }

    /** Places the reader on the record {@code nextLsn}, scanning headers forward from the index. */
    private void locate() throws IOException {
        Segment s = store.segmentFor(nextLsn);
        if (s == null) {
            throw new LogException(store.name() + ": lsn " + nextLsn + " is no longer in the log");
        }
        long[] floor = s.floor(nextLsn);
        segment = s;
        position = floor[1];
        for (long lsn = floor[0]; lsn < nextLsn; lsn++) {
            ByteBuffer h = view(RecordCodec.HEADER_LENGTH, false);
            String problem = RecordCodec.checkHeader(h);
            if (problem == null && RecordCodec.lsnOf(h) != lsn) {
                problem = "found lsn " + RecordCodec.lsnOf(h);
            }
            if (problem != null) {
                throw new LogCorruptedException(store.name() + ": record in " + s + " at offset " + position
                        + " where lsn " + lsn + " was expected is bad: " + problem, lsn);
            }
            position += RecordCodec.recordLength(h);
        }
    }

    private String read(LogRecord into, boolean fresh) throws IOException {
        ByteBuffer h = view(RecordCodec.HEADER_LENGTH, fresh);
        String problem = RecordCodec.checkHeader(h);
        if (problem != null) {
            return problem;
        }
        int length = RecordCodec.recordLength(h);
        ByteBuffer whole = view(length, false);
        if (whole.remaining() < length) {
            return "record of " + length + " bytes runs past the end of its segment";
        }
        problem = RecordCodec.decode(whole.limit(whole.position() + length), into);
        if (problem == null && into.lsn() != nextLsn) {
            problem = "found lsn " + into.lsn();
        }
        return problem;
    }

    /** At least {@code length} bytes at the reader's position (fewer at the end of the file). */
    private ByteBuffer view(int length, boolean fresh) throws IOException {
        if (fresh || position < windowStart || position + length > windowStart + windowLength) {
            if (window.capacity() < length) {
                window = ByteBuffer.allocate(length);
            }
            window.clear().limit(Math.max(Math.min(READ_AHEAD, window.capacity()), length));
            Segment.readFully(segment.channel(), window, position);
            windowStart = position;
            windowLength = window.position();
        }
        return window.duplicate().limit(windowLength).position((int) (position - windowStart));
    }

    @Override
    public void close() {
        closed = true;
        window = null;
    }
}
