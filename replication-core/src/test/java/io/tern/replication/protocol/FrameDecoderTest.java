package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {
    private static ByteBuf frame(MessageType type, byte[] payload) {
        return FrameCodec.encode(ByteBufAllocator.DEFAULT, type, Unpooled.wrappedBuffer(payload));
    }

    @Test
    void framesSplitAnywhereDecodeWholeAndEveryBufferIsReleased() {
        Random r = new Random(5);
        List<byte[]> payloads = new ArrayList<>();
        ByteBuf stream = Unpooled.buffer();
        for (int i = 0; i < 50; i++) {
            byte[] p = new byte[r.nextInt(3000)];
            r.nextBytes(p);
            payloads.add(p);
            ByteBuf f = frame(MessageType.values()[i % MessageType.values().length], p);
            stream.writeBytes(f);
            f.release();
        }
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        List<ByteBuf> pieces = new ArrayList<>();
        while (stream.isReadable()) {
            ByteBuf piece = stream.readRetainedSlice(Math.min(stream.readableBytes(), 1 + r.nextInt(700)));
            pieces.add(piece);
            ch.writeInbound(piece);
        }
        stream.release();
        for (int i = 0; i < payloads.size(); i++) {
            Frame f = ch.readInbound();
            assertThat(f).isNotNull();
            assertThat(f.type()).isEqualTo(MessageType.values()[i % MessageType.values().length]);
            byte[] got = new byte[f.payload().readableBytes()];
            f.payload().readBytes(got);
            assertThat(got).isEqualTo(payloads.get(i));
            f.release();
        }
        assertThat((Object) ch.readInbound()).isNull();
        assertThat(ch.finish()).isFalse();
        assertThat(pieces).allSatisfy(p -> assertThat(p.refCnt()).isZero());
    }

    private static ProtocolException rejected(ByteBuf bytes) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(1 << 20));
        try {
            ch.writeInbound(bytes);
            throw new AssertionError("accepted");
        } catch (DecoderException e) {
            assertThat(e.getCause()).isInstanceOf(ProtocolException.class);
            return (ProtocolException) e.getCause();
        } finally {
            ch.finishAndReleaseAll();
            assertThat(bytes.refCnt()).isZero();
        }
    }

    @Test
    void malformedHeadersAreRefusedBeforeAnyPayloadIsBuffered() {
        ByteBuf good = frame(MessageType.PING, new byte[8]);
        byte[] bytes = new byte[good.readableBytes()];
        good.readBytes(bytes);
        good.release();

        byte[] badMagic = bytes.clone();
        badMagic[0] = 'X';
        assertThat(rejected(Unpooled.wrappedBuffer(badMagic)).getMessage()).contains("magic");

        byte[] badVersion = bytes.clone();
        badVersion[4] = 9;
        assertThat(rejected(Unpooled.wrappedBuffer(badVersion)).code()).isEqualTo(ErrorCode.VERSION);

        byte[] badType = bytes.clone();
        badType[5] = 77;
        assertThat(rejected(Unpooled.wrappedBuffer(badType)).getMessage()).contains("type");

        byte[] badFlags = bytes.clone();
        badFlags[7] = 2; // flag 1 is zstd; 2 is unknown
        assertThat(rejected(Unpooled.wrappedBuffer(badFlags)).getMessage()).contains("flags");

        // A header announcing 2 GiB is refused from the header alone.
        ByteBuf huge = Unpooled.buffer().writeInt(FrameCodec.MAGIC).writeByte(1).writeByte(4).writeShort(0)
                .writeInt(Integer.MAX_VALUE).writeInt(0);
        assertThat(rejected(huge).getMessage()).contains("exceeds");

        byte[] flipped = bytes.clone();
        flipped[FrameCodec.HEADER_LENGTH + 3] ^= 1;
        assertThat(rejected(Unpooled.wrappedBuffer(flipped)).getMessage()).contains("checksum");
    }

    /**
     * Any single flipped bit in a frame is caught: by a field check or by the checksum. 2000 tries: payloads of
     * 0..300 random bytes, a position drawn from 0..Integer.MAX_VALUE (taken modulo the frame length), a bit 0..7;
     * the first tries are the edge cases (empty, one-byte and 300-byte payloads; positions 0, 1 and MAX_VALUE;
     * bits 0 and 7). A failure names the seed and the try.
     */
    @Test
    void anyFlippedBitIsRefused() {
        long seed = Seeds.seed("FrameDecoderTest.anyFlippedBitIsRefused");
        Random r = new Random(seed);
        byte[] full = new byte[300];
        r.nextBytes(full);
        List<byte[]> edgePayloads = List.of(new byte[0], new byte[] {0}, new byte[] {Byte.MIN_VALUE},
                new byte[] {Byte.MAX_VALUE}, new byte[300], full);
        int[] edgeWheres = {0, 1, Integer.MAX_VALUE};
        int[] edgeBits = {0, 7};
        int edgeTries = edgePayloads.size() * edgeWheres.length * edgeBits.length;
        for (int t = 0; t < 2000; t++) {
            byte[] payload;
            int where;
            int bit;
            if (t < edgeTries) {
                payload = edgePayloads.get(t / (edgeWheres.length * edgeBits.length));
                where = edgeWheres[t / edgeBits.length % edgeWheres.length];
                bit = edgeBits[t % edgeBits.length];
            } else {
                payload = new byte[r.nextInt(301)];
                r.nextBytes(payload);
                // Half the positions small (the header and the start of the payload), half anywhere in 0..MAX_VALUE.
                where = r.nextBoolean() ? r.nextInt(2 * (FrameCodec.HEADER_LENGTH + 300))
                        : r.nextInt() & Integer.MAX_VALUE;
                bit = r.nextInt(8);
            }
            try {
                flipOneBit(payload, where, bit);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("anyFlippedBitIsRefused failed at try " + t + " of seed " + seed
                        + " (replay with -Dtern.seed=" + seed + "): payload length " + payload.length + ", where "
                        + where + ", bit " + bit, e);
            }
        }
    }

    private static void flipOneBit(byte[] payload, int where, int bit) {
        ByteBuf f = frame(MessageType.RECORDS, payload);
        int at = where % f.readableBytes();
        f.setByte(at, f.getByte(at) ^ (1 << bit));
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder(1 << 20));
        try {
            ch.writeInbound(f);
            // A flip in the length may only make the decoder wait for more bytes: never a frame.
            assertThat((Object) ch.readInbound()).isNull();
        } catch (DecoderException e) {
            assertThat(e.getCause()).isInstanceOf(ProtocolException.class);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void payloadsOverTheMaximumAreNotEncoded() {
        ByteBuf big = Unpooled.buffer(0).writerIndex(0);
        assertThatThrownBy(() -> FrameCodec.encode(ByteBufAllocator.DEFAULT, MessageType.RECORDS,
                Unpooled.wrappedBuffer(new byte[FrameCodec.MAX_PAYLOAD + 1]))).isInstanceOf(IllegalArgumentException.class);
        big.release();
    }

    @Test
    void compressedFramesDecodeToTheirPayloadAndLyingOnesAreRefused() {
        byte[] compressible = new byte[256 << 10];
        for (int i = 0; i < compressible.length; i += 64) {
            compressible[i] = (byte) i;
        }
        byte[] random = new byte[64 << 10];
        new Random(9).nextBytes(random);
        ByteBuf packed = FrameCodec.encodeCompressed(ByteBufAllocator.DEFAULT, MessageType.RECORDS,
                Unpooled.wrappedBuffer(compressible));
        assertThat(packed.getUnsignedShort(6)).as("flags").isEqualTo(FrameCodec.FLAG_ZSTD);
        assertThat(packed.readableBytes()).isLessThan(compressible.length / 10);
        ByteBuf plain = FrameCodec.encodeCompressed(ByteBufAllocator.DEFAULT, MessageType.RECORDS,
                Unpooled.wrappedBuffer(random));
        assertThat(plain.getUnsignedShort(6)).as("incompressible: sent as is").isZero();

        FrameDecoder decoder = new FrameDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(packed, plain);
        Frame a = ch.readInbound();
        Frame b = ch.readInbound();
        assertThat(bytes(a.payload())).isEqualTo(compressible);
        assertThat(bytes(b.payload())).isEqualTo(random);
        a.release();
        b.release();
        assertThat(decoder.compressedFrames()).isEqualTo(1);
        assertThat(decoder.decompressedBytes()).isEqualTo(compressible.length);

        // A zstd frame that declares more than the bound, and one that is not zstd at all.
        byte[] bomb = com.github.luben.zstd.Zstd.compress(new byte[2 << 20]);
        EmbeddedChannel small = new EmbeddedChannel(new FrameDecoder(1 << 20));
        assertThatThrownBy(() -> small.writeInbound(flagged(bomb))).isInstanceOf(DecoderException.class)
                .hasMessageContaining("declares");
        EmbeddedChannel other = new EmbeddedChannel(new FrameDecoder());
        assertThatThrownBy(() -> other.writeInbound(flagged(random))).isInstanceOf(DecoderException.class)
                .hasMessageContaining("compressed payload");
    }

    /** A frame with the zstd flag around {@code payload} as given, with a valid checksum. */
    private static ByteBuf flagged(byte[] payload) {
        ByteBuf f = frame(MessageType.RECORDS, payload);
        f.setShort(6, FrameCodec.FLAG_ZSTD);
        f.setInt(12, FrameCodec.crc(f, 0, f, FrameCodec.HEADER_LENGTH, payload.length));
        return f;
    }

    private static byte[] bytes(ByteBuf b) {
        return io.netty.buffer.ByteBufUtil.getBytes(b);
    }
}
