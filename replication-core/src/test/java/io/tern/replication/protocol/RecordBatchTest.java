package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tern.log.LogRecord;
import io.tern.log.RecordCodec;
import io.tern.log.RecordOp;
import org.junit.jupiter.api.Test;

class RecordBatchTest {
    private static ByteBuffer record(long lsn, int size) {
        ByteBuffer payload = ByteBuffer.allocate(size);
        for (int i = 0; i < size; i++) {
            payload.put(i, (byte) (lsn + i));
        }
        ByteBuffer b = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH + size);
        RecordCodec.encodeHeader(b, RecordOp.WRITE, 0, 1, lsn, lsn - 1, lsn * 4096, size, size, RecordCodec.payloadCrc(payload));
        b.put(payload);
        return b.flip();
    }

    @Test
    void aBatchCrossesTheWireInAFrameAndEveryRecordStillVerifies() {
        List<ByteBuffer> records = new ArrayList<>();
        for (long lsn = 10; lsn < 60; lsn++) {
            records.add(record(lsn, (int) (lsn * 37 % 5000)));
        }
        ByteBuf payload = Unpooled.buffer();
        RecordBatch.encode(records, payload);
        ByteBuf frame = FrameCodec.encode(ByteBufAllocator.DEFAULT, MessageType.RECORDS, payload);
        payload.release();
        EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
        ch.writeInbound(frame);
        Frame f = ch.readInbound();
        assertThat(f.type()).isEqualTo(MessageType.RECORDS);
        List<ByteBuf> got = RecordBatch.decode(f.payload());
        assertThat(got).hasSize(50);
        LogRecord rec = new LogRecord();
        for (int i = 0; i < got.size(); i++) {
            assertThat(RecordCodec.decode(got.get(i).nioBuffer(), rec)).isNull();
            assertThat(rec.lsn()).isEqualTo(10 + i);
        }
        f.release();
        assertThat(ch.finish()).isFalse();
        assertThat(frame.refCnt()).isZero();
    }

    @Test
    void countsAndLengthsOutOfBoundsAreRefused() {
        assertThatThrownBy(() -> RecordBatch.decode(Unpooled.buffer().writeInt(0)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("count");
        assertThatThrownBy(() -> RecordBatch.decode(Unpooled.buffer().writeInt(-1)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("count");
        assertThatThrownBy(() -> RecordBatch.decode(Unpooled.buffer().writeInt(2).writeInt(10).writeZero(10)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("out of bounds");
        assertThatThrownBy(() -> RecordBatch.decode(Unpooled.buffer().writeInt(1).writeInt(100).writeZero(60)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("out of bounds");
        ByteBuf one = Unpooled.buffer();
        RecordBatch.encode(List.of(record(1, 10)), one);
        one.writeByte(0);
        assertThatThrownBy(() -> RecordBatch.decode(one)).isInstanceOf(ProtocolException.class).hasMessageContaining("trailing");
        assertThatThrownBy(() -> RecordBatch.encode(List.of(), Unpooled.buffer())).isInstanceOf(IllegalArgumentException.class);
    }
}
