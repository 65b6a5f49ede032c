package io.tern.replication.protocol;

import java.util.zip.CRC32C;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The replication protocol's frame:
 * <pre>
 *  offset size field
 *  +------+----+-----------------------------------------------------------+
 *  |   0  |  4 | magic 0x54524E50 ("TRNP")                                 |
 *  |   4  |  1 | protocol version (1)                                      |
 *  |   5  |  1 | message type ({@link MessageType})                        |
 *  |   6  |  2 | flags: 1 = payload compressed with zstd; others reserved  |
 *  |   8  |  4 | payload length (&lt;= {@link #MAX_PAYLOAD})                   |
 *  |  12  |  4 | crc32c of bytes [0, 12) and the payload                   |
 *  +------+----+-----------------------------------------------------------+
 *  |  16  |  n | payload                                                   |
 *  +------+----+-----------------------------------------------------------+
 * </pre>
 * Big-endian (network order), as Netty writes. The checksum covers the whole frame, so a
 * corrupted byte anywhere on the wire is caught before the payload is looked at (records inside
 * a RECORDS payload carry their own checksums as well). The one exception is
 * {@link MessageType#RECORD_STREAM}, whose payload goes from the segment file to the socket
 * without passing through this process: its checksum covers bytes [0, 12) only, and the records
 * in it are verified one by one, header and payload checksums, before anything is stored.
 */
public final class FrameCodec {
    public static final int MAGIC = 0x54524E50;
    public static final int VERSION = 1;
    public static final int HEADER_LENGTH = 16;
    /** Largest payload: a batch of records of up to 32 MiB each fits twice. */
    public static final int MAX_PAYLOAD = 64 << 20;
    /** Frame flag: the payload is one zstd frame; its decompressed size is bounded like any payload. */
    public static final int FLAG_ZSTD = 1;
    /** Payloads smaller than this are not worth compressing. */
    static final int COMPRESS_MIN = 4096;
    private static final int ZSTD_LEVEL = 1;

    private FrameCodec() {
    }

    /** Encodes a frame around {@code payload} (whose readable bytes are copied; the caller keeps it). */
    public static ByteBuf encode(ByteBufAllocator alloc, MessageType type, ByteBuf payload) {
        return encode(alloc, type, payload, 0);
    }

    /**
     * Like {@link #encode(ByteBufAllocator, MessageType, ByteBuf)}, but the payload is compressed
     * with zstd (flag {@link #FLAG_ZSTD}) when that makes it smaller; the checksum covers the
     * compressed bytes, and the records inside keep their own checksums.
     */
    public static ByteBuf encodeCompressed(ByteBufAllocator alloc, MessageType type, ByteBuf payload) {
        int length = payload.readableBytes();
        if (length >= COMPRESS_MIN) {
            byte[] plain = new byte[length];
            payload.getBytes(payload.readerIndex(), plain);
            byte[] packed = com.github.luben.zstd.Zstd.compress(plain, ZSTD_LEVEL);
            if (packed.length < length - length / 16) {
                return encode(alloc, type, io.netty.buffer.Unpooled.wrappedBuffer(packed), FLAG_ZSTD);
            }
        }
        return encode(alloc, type, payload, 0);
    }

    private static ByteBuf encode(ByteBufAllocator alloc, MessageType type, ByteBuf payload, int flags) {
        int length = payload.readableBytes();
        if (length > MAX_PAYLOAD) {
            throw new IllegalArgumentException(type + " payload of " + length + " bytes exceeds " + MAX_PAYLOAD);
        }
        ByteBuf out = alloc.buffer(HEADER_LENGTH + length);
        out.writeInt(MAGIC).writeByte(VERSION).writeByte(type.code()).writeShort(flags).writeInt(length);
        out.writeInt(frameCrc(type, out, 0, payload, payload.readerIndex(), length));
        out.writeBytes(payload, payload.readerIndex(), length);
        return out;
    }

    /** Encodes a message whose payload {@code body} writes, and writes and flushes it on {@code ctx}. */
    public static io.netty.channel.ChannelFuture send(io.netty.channel.ChannelHandlerContext ctx, MessageType type,
                                                      java.util.function.Consumer<ByteBuf> body) {
        return send(ctx, type, false, body);
    }

    /** As {@link #send(io.netty.channel.ChannelHandlerContext, MessageType, java.util.function.Consumer)}, compressed if asked. */
    public static io.netty.channel.ChannelFuture send(io.netty.channel.ChannelHandlerContext ctx, MessageType type,
                                                      boolean compress, java.util.function.Consumer<ByteBuf> body) {
        ByteBuf payload = ctx.alloc().buffer();
        try {
            body.accept(payload);
            return ctx.writeAndFlush(compress ? encodeCompressed(ctx.alloc(), type, payload)
                    : encode(ctx.alloc(), type, payload));
        } finally {
            payload.release();
        }
    }

    /** The 16-byte header of a {@link MessageType#RECORD_STREAM} frame whose {@code length} bytes follow it. */
    public static ByteBuf streamHeader(ByteBufAllocator alloc, int length) {
        if (length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("RECORD_STREAM payload of " + length + " bytes exceeds " + MAX_PAYLOAD);
        }
        ByteBuf out = alloc.buffer(HEADER_LENGTH);
        out.writeInt(MAGIC).writeByte(VERSION).writeByte(MessageType.RECORD_STREAM.code()).writeShort(0).writeInt(length);
        out.writeInt(crc(out, 0, out, 0, 0));
        return out;
    }

    /** The checksum a frame of {@code type} carries: header and payload, or the header alone for a stream. */
    static int frameCrc(MessageType type, ByteBuf header, int headerIndex, ByteBuf payload, int payloadIndex, int length) {
        return type == MessageType.RECORD_STREAM ? crc(header, headerIndex, payload, payloadIndex, 0)
                : crc(header, headerIndex, payload, payloadIndex, length);
    }

    static int crc(ByteBuf header, int headerIndex, ByteBuf payload, int payloadIndex, int length) {
        CRC32C crc = new CRC32C();
        crc.update(header.nioBuffer(headerIndex, 12));
        if (length > 0) {
            crc.update(payload.nioBuffer(payloadIndex, length));
        }
        return (int) crc.getValue();
    }
}
