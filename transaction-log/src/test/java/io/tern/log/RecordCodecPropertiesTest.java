package io.tern.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class RecordCodecPropertiesTest {

    /** The fields of a valid record. */
    record Fields(RecordOp op, int flags, long epoch, long lsn, long offset, int length, byte[] payload) {
        ByteBuffer encode() {
            ByteBuffer b = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH + payload.length);
            ByteBuffer p = ByteBuffer.wrap(payload);
            RecordCodec.encodeHeader(b, op, flags, epoch, lsn, offset, length, payload.length, RecordCodec.payloadCrc(p));
            b.put(p);
            return b.flip();
        }
    }

    @Provide
    Arbitrary<Fields> records() {
        Arbitrary<Long> epochs = Arbitraries.longs().between(0, Long.MAX_VALUE);
        Arbitrary<Long> lsns = Arbitraries.longs().between(1, Long.MAX_VALUE);
        Arbitrary<Long> offsets = Arbitraries.longs().between(0, 1L << 50);
        Arbitrary<Integer> flags = Arbitraries.of(0, (int) RecordCodec.FLAG_FUA);
        Arbitrary<Fields> writes = Combinators.combine(flags, epochs, lsns, offsets,
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(9000))
                .as((f, e, l, o, p) -> new Fields(RecordOp.WRITE, f, e, l, o, p.length, p));
        Arbitrary<Fields> zeros = Combinators.combine(flags, epochs, lsns, offsets, Arbitraries.integers().between(0, 1 << 30))
                .as((f, e, l, o, n) -> new Fields(RecordOp.ZERO, f, e, l, o, n, new byte[0]));
        Arbitrary<Fields> epochRecords = Combinators.combine(epochs, lsns,
                        Arbitraries.bytes().array(byte[].class).ofSize(RecordCodec.EPOCH_DIGEST_LENGTH))
                .as((e, l, d) -> new Fields(RecordOp.EPOCH, 0, e, l, 0, 0, d));
        return Arbitraries.oneOf(writes, zeros, epochRecords);
    }

    @Property(tries = 2000)
    void roundTrip(@ForAll("records") Fields f) {
        LogRecord r = new LogRecord();
        assertThat(RecordCodec.decode(f.encode(), r)).isNull();
        assertThat(r.op()).isEqualTo(f.op());
        assertThat(r.flags()).isEqualTo(f.flags());
        assertThat(r.epoch()).isEqualTo(f.epoch());
        assertThat(r.lsn()).isEqualTo(f.lsn());
        assertThat(r.offset()).isEqualTo(f.offset());
        assertThat(r.length()).isEqualTo(f.length());
        assertThat(r.payload()).isEqualTo(ByteBuffer.wrap(f.payload()));
    }

    @Property(tries = 5000)
    void randomBytesNeverDecodeToARecord(@ForAll @Size(max = 9000) byte[] junk) {
        assertThat(RecordCodec.decode(ByteBuffer.wrap(junk), new LogRecord())).isNotNull();
    }

    /** Random bytes behind a valid magic and version still fail: the header checksum guards every field. */
    @Property(tries = 5000)
    void randomHeadersWithOurMagicNeverDecode(@ForAll @Size(min = 48, max = 4096) byte[] junk) {
        ByteBuffer b = ByteBuffer.wrap(junk).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, RecordCodec.MAGIC).put(4, RecordCodec.VERSION);
        assertThat(RecordCodec.decode(b, new LogRecord())).isNotNull();
    }

    @Property(tries = 3000)
    void anyFlippedBitIsDetected(@ForAll("records") Fields f, @ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int where,
                                 @ForAll @IntRange(min = 0, max = 7) int bit) {
        ByteBuffer b = f.encode();
        int pos = where % b.limit();
        b.put(pos, (byte) (b.get(pos) ^ (1 << bit)));
        assertThat(RecordCodec.decode(b, new LogRecord())).isNotNull();
    }

    @Property(tries = 1000)
    void truncatedOrExtendedRecordsAreRejected(@ForAll("records") Fields f, @ForAll @IntRange(min = 1, max = 64) int cut) {
        ByteBuffer b = f.encode();
        ByteBuffer shorter = b.duplicate().limit(Math.max(0, b.limit() - cut));
        assertThat(RecordCodec.decode(shorter, new LogRecord())).isNotNull();
        ByteBuffer longer = ByteBuffer.allocate(b.limit() + cut).put(b.duplicate()).flip().limit(b.limit() + cut);
        assertThat(RecordCodec.decode(longer, new LogRecord())).isNotNull();
    }
}
