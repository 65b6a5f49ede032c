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
        Messages.Hello h = new Messages.Hello("cluster-1", "r0", "b", 3, HEAD, 1234);
        ByteBuf b = Unpooled.buffer();
        Messages.encode(h, b);
        assertThat(Messages.decodeHello(b)).isEqualTo(h);

        b.clear();
        Messages.encode(new Messages.Welcome(3, 100, 2000), b);
        assertThat(Messages.decodeWelcome(b)).isEqualTo(new Messages.Welcome(3, 100, 2000));

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
        Messages.encode(new Messages.Hello("c", "r0", "b", 1, HEAD, 5), hello);
        refused(Messages::decodeHello, hello.copy(0, hello.readableBytes() - 3), "ends inside");
        refused(Messages::decodeHello, Unpooled.buffer().writeBytes(hello.duplicate()).writeByte(0), "trailing");
        hello.release();

        refused(Messages::decodeWelcome, Unpooled.buffer().writeLong(1).writeLong(-5).writeLong(9), "negative");
        refused(Messages::decodeAck, Unpooled.buffer().writeLong(5).writeLong(9), "past received");
        refused(Messages::decodeReject, Unpooled.buffer().writeShort(999).writeShort(0), "unknown reject code");
        refused(Messages::decodeHello, Unpooled.buffer().writeShort(60000).writeZero(100), "exceeds");
        assertThatThrownBy(() -> Messages.encode(new Messages.Hello("c".repeat(300), "r0", "b", 1, HEAD, 5), Unpooled.buffer()))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
