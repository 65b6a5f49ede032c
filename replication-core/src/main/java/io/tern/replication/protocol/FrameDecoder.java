package io.tern.replication.protocol;

import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.tern.block.net.FailFastDecoder;

/**
 * Decodes {@link FrameCodec} frames into {@link Frame}s. Every field is checked before anything
 * is buffered: a bad magic, an unknown version or type, unknown flags, a length over
 * {@link FrameCodec#MAX_PAYLOAD} or a checksum mismatch raises {@link ProtocolException}, which
 * the connection's handler answers by closing it. A {@link MessageType#RECORD_STREAM} header,
 * whose checksum covers the header alone, is checked before its payload is waited for; any other
 * frame's checksum covers its payload too, so a damaged length under the bound is found once that
 * many bytes arrived, or by {@link Keepalive} when they never do. A compressed payload ({@link FrameCodec#FLAG_ZSTD})
 * is checked as received, then decompressed; one that does not declare its size, declares more
 * than the bound, or does not decompress to exactly that size is a protocol error too.
 */
public final class FrameDecoder extends FailFastDecoder {
    private volatile int maxPayload;
    private volatile long compressedFrames;
    private volatile long compressedBytes;
    private volatile long decompressedBytes;

    public FrameDecoder() {
        this(FrameCodec.MAX_PAYLOAD);
    }

    public FrameDecoder(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    /** Changes the bound on a frame's payload from the next frame on. */
    public void limit(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    @Override
    protected void decodeChecked(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.readableBytes() >= FrameCodec.HEADER_LENGTH) {
            int start = in.readerIndex();
            int magic = in.getInt(start);
            if (magic != FrameCodec.MAGIC) {
                throw new ProtocolException(ErrorCode.PROTOCOL, String.format("bad frame magic 0x%08x", magic));
            }
            int version = in.getUnsignedByte(start + 4);
            if (version != FrameCodec.VERSION) {
                throw new ProtocolException(ErrorCode.VERSION, "protocol version " + version + ", this node speaks "
                        + FrameCodec.VERSION);
            }
            MessageType type = MessageType.of(in.getUnsignedByte(start + 5));
            if (type == null) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "unknown message type " + in.getUnsignedByte(start + 5));
            }
            int flags = in.getUnsignedShort(start + 6);
            if ((flags & ~FrameCodec.FLAG_ZSTD) != 0 || (type == MessageType.RECORD_STREAM && flags != 0)) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "unknown frame flags 0x" + Integer.toHexString(flags));
            }
            long length = in.getUnsignedInt(start + 8);
            if (length > maxPayload) {
                throw new ProtocolException(ErrorCode.PROTOCOL, type + " frame of " + length + " bytes exceeds " + maxPayload);
            }
            boolean stream = type == MessageType.RECORD_STREAM;
            if (stream && FrameCodec.frameCrc(type, in, start, in, start, 0) != in.getInt(start + 12)) {
                // Its checksum covers the header alone: a damaged length is refused before any wait for it.
                throw new ProtocolException(ErrorCode.PROTOCOL, type + " frame header fails its checksum");
            }
            if (in.readableBytes() < FrameCodec.HEADER_LENGTH + length) {
                return;
            }
            if (!stream && FrameCodec.frameCrc(type, in, start, in, start + FrameCodec.HEADER_LENGTH, (int) length)
                    != in.getInt(start + 12)) {
                throw new ProtocolException(ErrorCode.PROTOCOL, type + " frame fails its checksum");
            }
            in.skipBytes(FrameCodec.HEADER_LENGTH);
            if ((flags & FrameCodec.FLAG_ZSTD) != 0) {
                out.add(new Frame(type, 0, decompress(type, in.readSlice((int) length))));
            } else {
                out.add(new Frame(type, flags, in.readRetainedSlice((int) length)));
            }
        }
    }

    private ByteBuf decompress(MessageType type, ByteBuf packed) {
        byte[] src = new byte[packed.readableBytes()];
        packed.readBytes(src);
        long size;
        try {
            size = src.length == 0 ? -1 : com.github.luben.zstd.Zstd.getFrameContentSize(src);
        } catch (RuntimeException e) { // zstd-jni's own bounds checks, on a payload cut short
            size = -1;
        }
        if (size < 0 || size > maxPayload) {
            throw new ProtocolException(ErrorCode.PROTOCOL, type + " compressed payload declares " + size
                    + " bytes (bound " + maxPayload + ")");
        }
        byte[] plain = new byte[(int) size];
        long n;
        try {
            n = com.github.luben.zstd.Zstd.decompress(plain, src);
        } catch (RuntimeException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL, type + " compressed payload does not decompress: " + e.getMessage());
        }
        if (n != size) {
            throw new ProtocolException(ErrorCode.PROTOCOL, type + " compressed payload gave " + n + " of " + size + " bytes");
        }
        compressedFrames++;
        compressedBytes += src.length;
        decompressedBytes += size;
        return io.netty.buffer.Unpooled.wrappedBuffer(plain);
    }

    /** Compressed frames received, their bytes on the wire and decompressed (event-loop thread; read anywhere). */
    public long compressedFrames() {
        return compressedFrames;
    }

    public long compressedBytes() {
        return compressedBytes;
    }

    public long decompressedBytes() {
        return decompressedBytes;
    }
}
