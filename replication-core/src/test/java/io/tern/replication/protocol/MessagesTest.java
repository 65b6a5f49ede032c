package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.Function;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class MessagesTest {
    private static final io.tern.replication.history.Version V1 =
            io.tern.replication.history.Version.start(1, "a", 1, io.tern.replication.history.Version.ROOT);
    private static final java.util.List<io.tern.replication.history.Version> HISTORY = java.util.List.of(V1,
            io.tern.replication.history.Version.start(3, "b", 900, V1.digest()));

    @Test
    void aDirtyMapLargerThanTheDeviceIsRefused() {
        java.util.BitSet dirty = new java.util.BitSet();
        dirty.set(4096); // chunk 4096 of a 1 GiB device (1024 chunks)
        ByteBuf b = Unpooled.buffer();
        Messages.encode(new Messages.Welcome(3, 100, 2000, 1 << 30, 77, HISTORY, dirty), b);
        assertThatThrownBy(() -> Messages.decodeWelcome(b)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("dirty map");
        b.release();
    }

    @Test
    void everyMessageRoundTrips() {
        Messages.Hello h = new Messages.Hello("cluster-1", "r0", "b", HISTORY, 1234, Messages.Mode.SYNC, Messages.Hello.COMPRESS);
        ByteBuf b = Unpooled.buffer();
        Messages.encode(h, b);
        assertThat(Messages.decodeHello(b)).isEqualTo(h);

        b.clear();
        Messages.encode(new Messages.Welcome(3, 100, 2000, 1 << 30, 77, HISTORY), b);
        assertThat(Messages.decodeWelcome(b)).isEqualTo(new Messages.Welcome(3, 100, 2000, 1 << 30, 77, HISTORY));

        java.util.BitSet dirty = new java.util.BitSet();
        dirty.set(0);
        dirty.set(1023);
        b.clear();
        Messages.encode(new Messages.Welcome(3, 100, 2000, 1 << 30, 77, HISTORY, dirty), b);
        assertThat(Messages.decodeWelcome(b).dirty()).isEqualTo(dirty);

        b.clear();
        Messages.Hello changed = new Messages.Hello("cluster-1", "r0", "b", java.util.List.of(), 500, Messages.Mode.SYNC,
                Messages.Hello.DIRTY | Messages.Hello.COMPRESS);
        Messages.encode(changed, b);
        assertThat(Messages.decodeHello(b)).isEqualTo(changed);

        b.clear();
        Messages.encode(new Messages.Reject(ErrorCode.WRONG_CLUSTER, "cluster 'x' is not 'cluster-1'"), b);
        assertThat(Messages.decodeReject(b)).isEqualTo(new Messages.Reject(ErrorCode.WRONG_CLUSTER, "cluster 'x' is not 'cluster-1'"));

        b.clear();
        Messages.encode(new Messages.Ack(50, 40), b);
        assertThat(Messages.decodeAck(b)).isEqualTo(new Messages.Ack(50, 40));

        b.clear();
        Messages.encode(new Messages.Ping(77), b);
        assertThat(Messages.decodePing(b)).isEqualTo(new Messages.Ping(77));
        b.release();
    }

    private static void refused(Function<ByteBuf, ?> decoder, ByteBuf in, String why) {
        try {
            assertThatThrownBy(() -> decoder.apply(in)).isInstanceOf(ProtocolException.class).hasMessageContaining(why);
        } finally {
            in.release();
        }
    }

    @Test
    void truncatedTrailingNegativeAndOversizedFieldsAreRefused() {
        ByteBuf hello = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c", "r0", "b", HISTORY, 5, Messages.Mode.STREAM, 0), hello);
        refused(Messages::decodeHello, hello.copy(0, hello.readableBytes() - 3), "ends inside");
        refused(Messages::decodeHello, Unpooled.buffer().writeBytes(hello.duplicate()).writeByte(0), "trailing");
        hello.release();

        refused(Messages::decodeWelcome, Unpooled.buffer().writeLong(1).writeLong(-5).writeLong(9), "negative");
        refused(Messages::decodeAck, Unpooled.buffer().writeLong(5).writeLong(9), "past received");
        refused(Messages::decodeReject, Unpooled.buffer().writeShort(999).writeShort(0), "unknown reject code");
        refused(Messages::decodeHello, Unpooled.buffer().writeShort(60000).writeZero(100), "exceeds");
        assertThatThrownBy(() -> Messages.encode(new Messages.Hello("c".repeat(300), "r0", "b", HISTORY, 5,
                Messages.Mode.STREAM, 0), Unpooled.buffer())).isInstanceOf(IllegalArgumentException.class);
        ByteBuf badMode = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c", "r0", "b", HISTORY, 5, Messages.Mode.STREAM, 0), badMode);
        ByteBuf badFlags = badMode.copy();
        badMode.setByte(badMode.writerIndex() - 2, 7);
        refused(Messages::decodeHello, badMode, "mode");
        badFlags.setByte(badFlags.writerIndex() - 1, 0x80);
        refused(Messages::decodeHello, badFlags, "flags");
        ByteBuf broken = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c", "r0", "b", java.util.List.of(V1,
                io.tern.replication.history.Version.start(2, "b", 9, new byte[32])), 5, Messages.Mode.STREAM, 0), broken);
        refused(Messages::decodeHello, broken, "does not chain");
    }

    @Test
    void syncMessagesRoundTripAndBoundTheirChunks() {
        // A chunk of 10 KiB in 4 KiB blocks: three blocks, the last of 2 KiB.
        for (BlockDigest algorithm : BlockDigest.values()) {
            byte[] digests = new byte[3 * algorithm.length()];
            digests[20] = 7;
            ByteBuf b = Unpooled.buffer();
            Messages.encode(new Messages.SyncDigest(1 << 20, 10240, 4096, algorithm, digests), b);
            Messages.SyncDigest d = Messages.decodeSyncDigest(b);
            assertThat(d.offset()).isEqualTo(1 << 20);
            assertThat(d.length()).isEqualTo(10240);
            assertThat(d.block()).isEqualTo(4096);
            assertThat(d.algorithm()).isEqualTo(algorithm);
            assertThat(d.digests()).isEqualTo(digests);
        }
        assertThatThrownBy(() -> new Messages.SyncDigest(0, 8192, 4096, BlockDigest.SHA256, new byte[32]))
                .isInstanceOf(IllegalArgumentException.class);

        java.util.BitSet differs = new java.util.BitSet();
        differs.set(0);
        differs.set(2);
        ByteBuf blocks = Unpooled.buffer().writeZero(4096 + 2048).setByte(3, 9);
        ByteBuf data = Unpooled.buffer();
        Messages.encode(new Messages.SyncData(4096, 10240, 4096, 42, differs, blocks), data);
        Messages.SyncData got = Messages.decodeSyncData(data);
        assertThat(got.differs()).isEqualTo(differs);
        assertThat(got.lsn()).isEqualTo(42);
        assertThat(got.data()).isEqualTo(blocks);
        ByteBuf same = Unpooled.buffer();
        Messages.encode(new Messages.SyncData(0, 512, 512, 1, new java.util.BitSet(), null), same);
        assertThat(Messages.decodeSyncData(same).data().readableBytes()).isZero();

        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(Messages.MAX_CHUNK + 512)
                .writeInt(4096), "chunk length");
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(100).writeInt(512), "chunk length");
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(3000), "block size");
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(4096), "ends inside");
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(4096).writeByte(9)
                .writeZero(64), "unknown block digest algorithm 9");
        // SHA-256 needs 64 bytes for two blocks; XXH128 digests of two blocks are only 32.
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(4096)
                .writeByte(BlockDigest.SHA256.id()).writeZero(2 * BlockDigest.XXH128.length()), "ends inside");
        // A bitmap that marks two blocks but carries the bytes of one, or marks a block past the chunk.
        refused(Messages::decodeSyncData, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(4096).writeLong(1)
                .writeByte(3).writeZero(4096), "carries");
        refused(Messages::decodeSyncData, Unpooled.buffer().writeLong(0).writeInt(8192).writeInt(4096).writeLong(1)
                .writeByte(4), "marks block");
    }

    @Test
    void linksRoundTripAndMalformedOnesAreRefused() {
        java.util.List<io.tern.links.Link> links = java.util.List.of(
                new io.tern.links.Link("primary", "a", 3, "a", false),
                new io.tern.links.Link("member-c", null, 9, "a", true));
        ByteBuf b = Unpooled.buffer();
        Messages.encodeLinks(links, b);
        assertThat(Messages.decodeLinks(b)).isEqualTo(links);

        refused(Messages::decodeLinks, Unpooled.buffer().writeShort(Messages.MAX_LINKS + 1), "exceed");
        ByteBuf zeroTime = Unpooled.buffer();
        Messages.encodeLinks(java.util.List.of(new io.tern.links.Link("x", "1", 1, "a", false)), zeroTime);
        zeroTime.setLong(2 + 3 + 3, 0); // the lamport time, after name "x" and value "1"
        refused(Messages::decodeLinks, zeroTime, "malformed");
    }
}
