package io.tern.replication.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.tern.log.RecordCodec;

/**
 * The payload of a RECORDS frame: log records in their on-disk encoding (each with its own
 * checksums, verified again by the receiving log), consecutive LSNs in order.
 * <pre>
 *  count u32 (1..{@link #MAX_RECORDS}) | count x ( length u32 (48..48 + 32 MiB) | record bytes )
 * </pre>
 */
public final class RecordBatch {
    public static final int MAX_RECORDS = 1 << 16;
    private static final long MAX_RECORD = RecordCodec.HEADER_LENGTH + (long) RecordCodec.MAX_PAYLOAD;

    private RecordBatch() {
    }

    public static void encode(List<ByteBuffer> records, ByteBuf out) {
        if (records.isEmpty() || records.size() > MAX_RECORDS) {
            throw new IllegalArgumentException("a batch holds 1.." + MAX_RECORDS + " records, not " + records.size());
        }
        out.writeInt(records.size());
        for (ByteBuffer r : records) {
            out.writeInt(r.remaining()).writeBytes(r.duplicate());
        }
    }

    /**
     * The records of a batch, as slices of {@code in} (valid while the frame is held).
     *
     * @throws ProtocolException if a count or length is out of bounds or the payload does not end with the last record
     */
    public static List<ByteBuf> decode(ByteBuf in) {
        if (in.readableBytes() < 4) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS payload has no count");
        }
        long count = in.readUnsignedInt();
        if (count < 1 || count > MAX_RECORDS) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS count " + count + " is outside 1.." + MAX_RECORDS);
        }
        List<ByteBuf> out = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            if (in.readableBytes() < 4) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS ends before record " + i + " of " + count);
            }
            long length = in.readUnsignedInt();
            if (length < RecordCodec.HEADER_LENGTH || length > MAX_RECORD || length > in.readableBytes()) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS record " + i + " of " + length
                        + " bytes is out of bounds");
            }
            out.add(in.readSlice((int) length));
        }
        if (in.isReadable()) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS has " + in.readableBytes() + " trailing bytes");
        }
        return out;
    }
}
