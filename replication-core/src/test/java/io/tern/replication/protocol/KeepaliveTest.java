package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The keepalive on a pipeline shaped as the real ones (decoder, keepalive), on an
 * {@link EmbeddedChannel} whose clock the test moves: what counts as hearing the peer.
 */
class KeepaliveTest {
    private EmbeddedChannel ch;
    private final List<ByteBuf> fed = new ArrayList<>();

    @BeforeEach
    void pipeline() {
        ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(new FrameDecoder());
        Keepalive.install(ch.pipeline());
    }

    @AfterEach
    void releaseAll() {
        ch.finishAndReleaseAll();
        assertThat(fed).as("every buffer fed in is released").allSatisfy(b -> assertThat(b.refCnt()).isZero());
    }

    private static ByteBuf frame(MessageType type, byte[] payload) {
        return FrameCodec.encode(ByteBufAllocator.DEFAULT, type, Unpooled.wrappedBuffer(payload));
    }

    private void feed(ByteBuf b) {
        fed.add(b);
        ch.writeInbound(b);
    }

    private void advance(long millis) {
        ch.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        ch.runPendingTasks();
    }

    private byte[] ping() {
        ByteBuf payload = Unpooled.buffer();
        Messages.encode(new Messages.Ping(1), payload);
        byte[] p = new byte[payload.readableBytes()];
        payload.readBytes(p).release();
        return p;
    }

    /** Drops the PINGs this side wrote while the clock moved. */
    private int pingsWritten() {
        int n = 0;
        for (ByteBuf b; (b = ch.readOutbound()) != null; b.release()) {
            assertThat((int) b.getUnsignedByte(5)).isEqualTo(MessageType.PING.code());
            n++;
        }
        return n;
    }

    @Test
    void aFrameThatTakesHalfAMinuteToArriveKeepsTheConnection() {
        byte[] payload = new byte[2 << 20];
        new Random(7).nextBytes(payload);
        ByteBuf whole = frame(MessageType.RECORDS, payload);
        // 64 KiB/s: 16 KiB every 250 ms, 32 s in all; no frame completes before the last piece.
        while (whole.isReadable()) {
            assertThat(ch.isOpen()).as("open with %d bytes to go", whole.readableBytes()).isTrue();
            assertThat((Object) ch.readInbound()).isNull();
            feed(whole.readRetainedSlice(Math.min(16 << 10, whole.readableBytes())));
            advance(250);
        }
        whole.release();
        fed.add(whole);
        assertThat(ch.isOpen()).isTrue();
        Frame f = ch.readInbound();
        assertThat(f.type()).isEqualTo(MessageType.RECORDS);
        assertThat(f.payload().readableBytes()).isEqualTo(payload.length);
        f.release();
        assertThat(pingsWritten()).as("this side pinged while it only read").isGreaterThan(20);
    }

    @Test
    void silenceClosesTheConnectionAfterDeadSeconds() {
        advance(TimeUnit.SECONDS.toMillis(Keepalive.DEAD_SECONDS) - 1000);
        assertThat(ch.isOpen()).isTrue();
        feed(frame(MessageType.PING, ping()));
        advance(TimeUnit.SECONDS.toMillis(Keepalive.DEAD_SECONDS) - 1000);
        assertThat(ch.isOpen()).as("a frame was heard").isTrue();
        advance(1500);
        assertThat(ch.isOpen()).as("closed after %d s of silence", Keepalive.DEAD_SECONDS).isFalse();
        Frame f = ch.readInbound();
        f.release();
        pingsWritten();
    }

    @Test
    void aDamagedLengthThatOnlyPingsTrickleIntoIsCaught() {
        ByteBuf header = frame(MessageType.RECORDS, new byte[100]);
        header.setInt(8, 1 << 20); // the length says 1 MiB: the decoder waits for it
        feed(header.retainedSlice(0, FrameCodec.HEADER_LENGTH));
        header.release();
        fed.add(header);
        int seconds = 0;
        while (ch.isOpen() && seconds < 60) {
            feed(frame(MessageType.PING, ping())); // swallowed by the frame that never completes
            advance(1000);
            seconds++;
        }
        assertThat(ch.isOpen()).isFalse();
        assertThat(seconds).isBetween(Keepalive.DEAD_SECONDS, Keepalive.DEAD_SECONDS + 1);
        assertThat((Object) ch.readInbound()).isNull();
        pingsWritten();
    }

    @Test
    void aStreamHeaderWithADamagedLengthIsRefusedBeforeItsPayloadIsAwaited() {
        ByteBuf header = FrameCodec.streamHeader(ByteBufAllocator.DEFAULT, 4096);
        header.setInt(8, 1 << 20);
        fed.add(header);
        try {
            ch.writeInbound(header);
            throw new AssertionError("accepted");
        } catch (io.netty.handler.codec.DecoderException e) {
            assertThat(e.getCause()).isInstanceOf(ProtocolException.class).hasMessageContaining("header fails its checksum");
        }
    }

    @Test
    void readingSuspendedByThisSideIsNotSilence() {
        ch.config().setAutoRead(false);
        advance(TimeUnit.SECONDS.toMillis(3L * Keepalive.DEAD_SECONDS));
        assertThat(ch.isOpen()).isTrue();
        ch.config().setAutoRead(true);
        advance(TimeUnit.SECONDS.toMillis(Keepalive.DEAD_SECONDS) + 1000);
        assertThat(ch.isOpen()).isFalse();
        pingsWritten();
    }

    @Test
    void pingsOnlyWhenNothingWasWritten() {
        advance(1100);
        assertThat(pingsWritten()).isEqualTo(1);
        ch.writeOutbound(frame(MessageType.ACK, new byte[16]));
        advance(600);
        ByteBuf ack = ch.readOutbound();
        assertThat((int) ack.getUnsignedByte(5)).isEqualTo(MessageType.ACK.code());
        ack.release();
        assertThat(pingsWritten()).as("written 600 ms ago").isZero();
    }
}
