package io.tern.log;

/**
 * Reads a log's records in LSN order from any starting LSN and follows its tail: {@link #next}
 * returns {@code false} when no further <em>durable</em> record exists yet, and {@code true} once
 * one does. A record that has been appended but not yet synced is never returned, so nothing
 * downstream (shipping, replay) can act on a record a crash could still take back.
 *
 * <p>Every record is verified (both checksums, bounds, and that its LSN is the one expected);
 * a bad record raises {@link LogCorruptedException} and its bytes are never returned. Excerpts
 * inside a recovery cut are skipped.
 *
 * <p>Thread contract: a reader is used by one thread at a time; many readers may run at once.
 */
public final class LogReader implements AutoCloseable {
    private final SegmentStore store;
    private final QueueCursor cursor;
    private final String name;
    private long nextLsn;
    private boolean closed;

    LogReader(SegmentStore store, QueueCursor cursor, long nextLsn, String name) {
        this.store = store;
        this.cursor = cursor;
        this.nextLsn = nextLsn;
        this.name = name;
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
     */
    public boolean next(LogRecord into) {
        if (closed) {
            throw new LogClosedException(name + ": reader is closed");
        }
        if (nextLsn > store.durableLsn()) {
            return false;
        }
        while (cursor.next()) {
            long index = cursor.index();
            if (store.isCut(index)) {
                continue;
            }
            String problem = cursor.decode(into);
            if (problem == null && into.lsn() != nextLsn) {
                problem = "found lsn " + into.lsn();
            }
            if (problem != null) {
                throw new LogCorruptedException(name + ": record at queue index 0x" + Long.toHexString(index)
                        + " where lsn " + nextLsn + " was expected is bad: " + problem, nextLsn);
            }
            nextLsn++;
            return true;
        }
        return false;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            cursor.close();
        }
    }
}
