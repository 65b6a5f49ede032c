package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.Function;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class MessagesTest {
    private static final byte[] HEAD = new byte[32];

    @Test
    void everyMessageRoundTrips() {
        Messages.Hello h = new Messages.Hello("cluster-1", "r0", "b", 3, HEAD, 1234, Messages.Mode.SYNC);
        ByteBuf b = Unpooled.buffer();
        Messages.encode(h, b);
        assertThat(Messages.decodeHello(b)).isEqualTo(h);

        b.clear();
        Messages.encode(new Messages.Welcome(3, 100, 2000, 1 << 30, 77), b);
        assertThat(Messages.decodeWelcome(b)).isEqualTo(new Messages.Welcome(3, 100, 2000, 1 << 30, 77));

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
        Messages.encode(new Messages.Hello("c", "r0", "b", 1, HEAD, 5, Messages.Mode.STREAM), hello);
        refused(Messages::decodeHello, hello.copy(0, hello.readableBytes() - 3), "ends inside");
        refused(Messages::decodeHello, Unpooled.buffer().writeBytes(hello.duplicate()).writeByte(0), "trailing");
        hello.release();

        refused(Messages::decodeWelcome, Unpooled.buffer().writeLong(1).writeLong(-5).writeLong(9), "negative");
        refused(Messages::decodeAck, Unpooled.buffer().writeLong(5).writeLong(9), "past received");
        refused(Messages::decodeReject, Unpooled.buffer().writeShort(999).writeShort(0), "unknown reject code");
        refused(Messages::decodeHello, Unpooled.buffer().writeShort(60000).writeZero(100), "exceeds");
        assertThatThrownBy(() -> Messages.encode(new Messages.Hello("c".repeat(300), "r0", "b", 1, HEAD, 5,
                Messages.Mode.STREAM), Unpooled.buffer())).isInstanceOf(IllegalArgumentException.class);
        ByteBuf badMode = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c", "r0", "b", 1, HEAD, 5, Messages.Mode.STREAM), badMode);
        badMode.setByte(badMode.writerIndex() - 1, 7);
        refused(Messages::decodeHello, badMode, "mode");
    }

    @Test
    void syncMessagesRoundTripAndBoundTheirChunks() {
        ByteBuf b = Unpooled.buffer();
        Messages.encode(new Messages.SyncDigest(1 << 20, 65536, HEAD), b);
        Messages.SyncDigest d = Messages.decodeSyncDigest(b);
        assertThat(d.offset()).isEqualTo(1 << 20);
        assertThat(d.length()).isEqualTo(65536);
        assertThat(d.digest()).isEqualTo(HEAD);

        ByteBuf chunk = Unpooled.buffer().writeZero(512).setByte(3, 9);
        ByteBuf data = Unpooled.buffer();
        Messages.encode(new Messages.SyncData(4096, 512, 42, false, chunk), data);
        Messages.SyncData got = Messages.decodeSyncData(data);
        assertThat(got.same()).isFalse();
        assertThat(got.lsn()).isEqualTo(42);
        assertThat(got.data()).isEqualTo(chunk);
        ByteBuf same = Unpooled.buffer();
        Messages.encode(new Messages.SyncData(0, 512, 1, true, null), same);
        assertThat(Messages.decodeSyncData(same).data()).isNull();

        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(Messages.MAX_CHUNK + 512)
                .writeZero(32), "chunk length");
        refused(Messages::decodeSyncDigest, Unpooled.buffer().writeLong(0).writeInt(100).writeZero(32), "chunk length");
        refused(Messages::decodeSyncData, Unpooled.buffer().writeLong(0).writeInt(512).writeLong(1).writeByte(0)
                .writeZero(100), "ends inside");
        refused(Messages::decodeSyncData, Unpooled.buffer().writeLong(0).writeInt(512).writeLong(1).writeByte(2),
                "same flag");
    }
}
