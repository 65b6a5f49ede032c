package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.tern.log.RecordCodec;
import io.tern.log.RecordOp;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;

/** Records split anywhere across RECORD_STREAM frames come back whole; a bad header ends the stream. */
class RecordStreamTest {
    private static ByteBuffer record(long lsn, int size, Random r) {
        byte[] p = new byte[size];
        r.nextBytes(p);
        ByteBuffer payload = ByteBuffer.wrap(p);
        ByteBuffer b = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH + size);
        RecordCodec.encodeHeader(b, RecordOp.WRITE, 0, 1, lsn, lsn - 1, lsn * 4096, size, size,
                RecordCodec.payloadCrc(payload));
        return b.put(payload).flip();
    }

    @Test
    void recordsSplitAnywhereComeBackWhole() {
        long seed = Seeds.seed("RecordStreamTest");
        Random r = new Random(seed);
        for (int attempt = 0; attempt < 50; attempt++) {
            List<ByteBuffer> sent = new ArrayList<>();
            ByteBuf stream = Unpooled.buffer();
            for (int i = 1; i <= 40; i++) {
                ByteBuffer rec = record(i, r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(9000), r);
                sent.add(rec.duplicate());
                stream.writeBytes(rec);
            }
            RecordStream rs = new RecordStream(ByteBufAllocator.DEFAULT);
            List<ByteBuffer> got = new ArrayList<>();
            while (stream.isReadable()) {
                got.addAll(rs.feed(stream.readSlice(Math.min(stream.readableBytes(), 1 + r.nextInt(5000)))));
            }
            assertThat(rs.pendingBytes()).as("seed %d attempt %d", seed, attempt).isZero();
            assertThat(got).as("seed %d attempt %d", seed, attempt).isEqualTo(sent);
            rs.release();
            stream.release();
        }
    }

    @Test
    void aBadHeaderIsAProtocolError() {
        ByteBuffer rec = record(1, 100, new Random(1));
        rec.put(20, (byte) (rec.get(20) ^ 1));
        RecordStream rs = new RecordStream(ByteBufAllocator.DEFAULT);
        assertThatThrownBy(() -> rs.feed(Unpooled.wrappedBuffer(rec))).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("bad record header");
        rs.release();
    }
}
