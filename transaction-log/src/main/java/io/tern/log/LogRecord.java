package io.tern.log;

import java.nio.ByteBuffer;

/**
 * A decoded, verified record: a reusable flyweight that {@link LogReader} fills. The payload is a
 * read-only view valid until the next call that refills this object.
 */
public final class LogRecord {
    private RecordOp op;
    private int flags;
    private long epoch;
    private long lsn;
    private long committed;
    private long offset;
    private int length;
    private ByteBuffer payload;
    private ByteBuffer encoded;

    void set(RecordOp op, int flags, long epoch, long lsn, long committed, long offset, int length, ByteBuffer payload,
             ByteBuffer encoded) {
        this.committed = committed;
        this.encoded = encoded.asReadOnlyBuffer();
        this.op = op;
        this.flags = flags;
        this.epoch = epoch;
        this.lsn = lsn;
        this.offset = offset;
        this.length = length;
        this.payload = payload.asReadOnlyBuffer();
    }

    public RecordOp op() {
        return op;
    }

    public int flags() {
        return flags;
    }

    public boolean fua() {
        return (flags & RecordCodec.FLAG_FUA) != 0;
    }

    public long epoch() {
        return epoch;
    }

    public long lsn() {
        return lsn;
    }

    /** The last LSN the primary knew durable when it wrote this record. */
    public long committed() {
        return committed;
    }

    /** Device offset of the extent this record covers. */
    public long offset() {
        return offset;
    }

    /** Bytes of device this record covers. */
    public int length() {
        return length;
    }

    /** The whole record as it is encoded on disk and on the wire, header and payload. */
    public ByteBuffer encoded() {
        return encoded.duplicate();
    }

    /** The payload, positioned at its first byte. */
    public ByteBuffer payload() {
        return payload.duplicate();
    }

    @Override
    public String toString() {
        return op + "{lsn=" + lsn + ", epoch=" + epoch + ", offset=" + offset + ", length=" + length + ", flags=" + flags + "}";
    }
}
