package io.tern.replication.protocol;

import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tern.log.RecordCodec;

/**
 * Puts log records back together from {@link MessageType#RECORD_STREAM} frames, which carry the
 * primary's segment bytes split anywhere. Each record's header is checked (magic, header
 * checksum, bounds) before its length is trusted, so the bytes held back never exceed one
 * record: {@link RecordCodec#HEADER_LENGTH} plus {@link RecordCodec#MAX_PAYLOAD}. The payload
 * checksum is verified by the log that stores the record.
 *
 * <p>Thread contract: one session's event loop. {@link #release()} when the session ends.
 */
public final class RecordStream {
    private final ByteBufAllocator alloc;
    private ByteBuf pending;

    public RecordStream(ByteBufAllocator alloc) {
        this.alloc = alloc;
    }

    /**
     * Takes the next chunk of the stream and returns the records it completes, each copied into
     * a buffer of its own (the log keeps it until the record is stored).
     *
     * @throws ProtocolException if a record header is bad: the stream cannot be resynchronised
     */
    public List<java.nio.ByteBuffer> feed(ByteBuf chunk) {
        if (pending == null) {
            pending = alloc.buffer(Math.max(chunk.readableBytes(), 256));
        }
        pending.writeBytes(chunk);
        List<java.nio.ByteBuffer> records = new ArrayList<>();
        while (pending.readableBytes() >= RecordCodec.HEADER_LENGTH) {
            java.nio.ByteBuffer h = pending.nioBuffer(pending.readerIndex(), RecordCodec.HEADER_LENGTH);
            String problem = RecordCodec.checkHeader(h);
            if (problem != null) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "record stream: bad record header: " + problem);
            }
            int length = RecordCodec.recordLength(h);
            if (pending.readableBytes() < length) {
                break;
            }
            java.nio.ByteBuffer record = java.nio.ByteBuffer.allocate(length);
            pending.readBytes(record);
            records.add(record.flip());
        }
        pending.discardReadBytes();
        return records;
    }

    /** Bytes of an incomplete record held back. */
    public int pendingBytes() {
        return pending == null ? 0 : pending.readableBytes();
    }

    public void release() {
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }
}
