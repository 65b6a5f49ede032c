package io.tern.log;

import java.nio.ByteBuffer;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * Reads raw excerpts from the queue, one at a time, into a reused heap buffer (one copy out of
 * the mapped file, so a record can be verified and then handed out without the mapping changing
 * under it). Used by one thread at a time; Chronicle's own thread check is off because a cursor
 * may be created on one thread and handed to another.
 */
final class QueueCursor implements AutoCloseable {
    static final long MAX_EXCERPT = RecordCodec.HEADER_LENGTH + (long) RecordCodec.MAX_PAYLOAD;

    private final ExcerptTailer tailer;
    private byte[] array = new byte[64 * 1024];
    private ByteBuffer view = ByteBuffer.wrap(array);
    private long index = -1;
    private long length;

    QueueCursor(ChronicleQueue queue) {
        this.tailer = queue.createTailer();
        this.tailer.singleThreadedCheckDisabled(true);
    }

    /** Positions at {@code index}; false if no excerpt is there. */
    boolean moveToIndex(long index) {
        return tailer.moveToIndex(index);
    }

    void toStart() {
        tailer.toStart();
    }

    /** Reads the next excerpt; false if none is there (yet). */
    boolean next() {
        try (DocumentContext dc = tailer.readingDocument()) {
            if (!dc.isPresent()) {
                return false;
            }
            index = dc.index();
            Bytes<?> bytes = dc.wire().bytes();
            length = bytes.readRemaining();
            if (length > MAX_EXCERPT) {
                view.clear().limit(0);
                return true;
            }
            int n = (int) length;
            if (n > array.length) {
                array = new byte[Math.max(n, array.length * 2)];
                view = ByteBuffer.wrap(array);
            }
            bytes.read(array, 0, n);
            view.clear().limit(n);
            return true;
        }
    }

    /** Queue index of the excerpt last read. */
    long index() {
        return index;
    }

    /** Length of the excerpt last read. */
    long length() {
        return length;
    }

    /** Verifies and decodes the excerpt last read into {@code into}; returns why it is bad, or null. */
    String decode(LogRecord into) {
        if (length > MAX_EXCERPT) {
            return "excerpt of " + length + " bytes is larger than any record (" + MAX_EXCERPT + ")";
        }
        return RecordCodec.decode(view, into);
    }

    @Override
    public void close() {
        tailer.close();
    }
}
