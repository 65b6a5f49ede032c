package io.tern.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.Consumer;

import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;

/**
 * Properties of the record codec over seeded random records and bytes. A failing try names the
 * seed and the try, so {@code -Dtern.seed=N} replays it.
 */
class RecordCodecPropertiesTest {

    /** The fields of a valid record. */
    record Fields(RecordOp op, int flags, long epoch, long lsn, long committed, long offset, int length,
                  byte[] payload) {
        ByteBuffer encode() {
            ByteBuffer b = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH + payload.length);
            ByteBuffer p = ByteBuffer.wrap(payload);
            RecordCodec.encodeHeader(b, op, flags, epoch, lsn, committed, offset, length, payload.length,
                    RecordCodec.payloadCrc(p));
            b.put(p);
            return b.flip();
        }
    }

    /** A random valid record; the first tries of every property take the edge values. */
    static Fields record(Random r, int attempt) {
        boolean edge = attempt < 8;
        long epoch = edge ? (attempt % 2 == 0 ? 0 : Long.MAX_VALUE) : r.nextLong() & Long.MAX_VALUE;
        long lsn = edge ? (attempt % 4 < 2 ? 1 : Long.MAX_VALUE) : 1 + (r.nextLong() & (Long.MAX_VALUE >>> 1));
        long committed = edge ? (attempt % 3 == 0 ? 0 : lsn - 1) : (r.nextLong() & Long.MAX_VALUE) % lsn;
        long offset = edge ? (attempt % 2 == 0 ? 0 : 1L << 50) : (r.nextLong() & ((1L << 50) - 1));
        int flags = r.nextBoolean() ? 0 : RecordCodec.FLAG_FUA;
        switch (edge ? attempt % 3 : r.nextInt(3)) {
            case 0 -> {
                byte[] p = new byte[edge ? (attempt < 4 ? 0 : 9000) : r.nextInt(9001)];
                r.nextBytes(p);
                return new Fields(RecordOp.WRITE, flags, epoch, lsn, committed, offset, p.length, p);
            }
            case 1 -> {
                int n = edge ? (attempt < 4 ? 0 : 1 << 30) : r.nextInt((1 << 30) + 1);
                return new Fields(RecordOp.ZERO, flags, epoch, lsn, committed, offset, n, new byte[0]);
            }
            default -> {
                byte[] d = new byte[RecordCodec.EPOCH_DIGEST_LENGTH];
                r.nextBytes(d);
                return new Fields(RecordOp.EPOCH, 0, epoch, lsn, committed, 0, 0, d);
            }
        }
    }

    /** Runs {@code tries} seeded tries; a failure names the seed and the try. */
    private static void forAll(String name, int tries, Consumer<Random> body) {
        long seed = Seeds.seed("RecordCodecPropertiesTest." + name);
        Random r = new Random(seed);
        for (int i = 0; i < tries; i++) {
            try {
                body.accept(r);
            } catch (AssertionError e) {
                throw new AssertionError(name + " failed at try " + i + " of seed " + seed + ": " + e.getMessage(), e);
            }
        }
    }

    @Test
    void roundTrip() {
        int[] attempt = {0};
        forAll("roundTrip", 2000, r -> {
            Fields f = record(r, attempt[0]++);
            LogRecord rec = new LogRecord();
            ByteBuffer encoded = f.encode();
            assertThat(RecordCodec.decode(encoded, rec)).isNull();
            assertThat(RecordCodec.checkHeader(encoded)).isNull();
            assertThat(RecordCodec.lsnOf(encoded)).isEqualTo(f.lsn());
            assertThat(RecordCodec.committedOf(encoded)).isEqualTo(f.committed());
            assertThat(RecordCodec.recordLength(encoded)).isEqualTo(encoded.remaining());
            assertThat(rec.op()).isEqualTo(f.op());
            assertThat(rec.flags()).isEqualTo(f.flags());
            assertThat(rec.epoch()).isEqualTo(f.epoch());
            assertThat(rec.lsn()).isEqualTo(f.lsn());
            assertThat(rec.committed()).isEqualTo(f.committed());
            assertThat(rec.offset()).isEqualTo(f.offset());
            assertThat(rec.length()).isEqualTo(f.length());
            assertThat(rec.payload()).isEqualTo(ByteBuffer.wrap(f.payload()));
        });
    }

    @Test
    void randomBytesNeverDecodeToARecord() {
        forAll("randomBytesNeverDecodeToARecord", 5000, r -> {
            byte[] junk = new byte[r.nextInt(9001)];
            r.nextBytes(junk);
            assertThat(RecordCodec.decode(ByteBuffer.wrap(junk), new LogRecord())).isNotNull();
            assertThat(RecordCodec.checkHeader(ByteBuffer.wrap(junk))).isNotNull();
        });
    }

    /** Random bytes behind a valid magic and version still fail: the header checksum guards every field. */
    @Test
    void randomHeadersWithOurMagicNeverDecode() {
        forAll("randomHeadersWithOurMagicNeverDecode", 5000, r -> {
            byte[] junk = new byte[RecordCodec.HEADER_LENGTH + r.nextInt(4096 - RecordCodec.HEADER_LENGTH + 1)];
            r.nextBytes(junk);
            ByteBuffer b = ByteBuffer.wrap(junk).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(0, RecordCodec.MAGIC).put(4, RecordCodec.VERSION);
            assertThat(RecordCodec.decode(b, new LogRecord())).isNotNull();
            assertThat(RecordCodec.checkHeader(b)).isNotNull();
        });
    }

    @Test
    void anyFlippedBitIsDetected() {
        int[] attempt = {0};
        forAll("anyFlippedBitIsDetected", 3000, r -> {
            Fields f = record(r, attempt[0]++);
            ByteBuffer b = f.encode();
            int pos = r.nextInt(b.limit());
            int bit = r.nextInt(8);
            b.put(pos, (byte) (b.get(pos) ^ (1 << bit)));
            assertThat(RecordCodec.decode(b, new LogRecord())).as("bit %d of byte %d", bit, pos).isNotNull();
            if (pos < RecordCodec.HEADER_LENGTH) {
                assertThat(RecordCodec.checkHeader(b)).as("bit %d of header byte %d", bit, pos).isNotNull();
            }
        });
    }

    @Test
    void truncatedOrExtendedRecordsAreRejected() {
        int[] attempt = {0};
        forAll("truncatedOrExtendedRecordsAreRejected", 1000, r -> {
            Fields f = record(r, attempt[0]++);
            int cut = 1 + r.nextInt(64);
            ByteBuffer b = f.encode();
            ByteBuffer shorter = b.duplicate().limit(Math.max(0, b.limit() - cut));
            assertThat(RecordCodec.decode(shorter, new LogRecord())).isNotNull();
            ByteBuffer longer = ByteBuffer.allocate(b.limit() + cut).put(b.duplicate()).flip().limit(b.limit() + cut);
            assertThat(RecordCodec.decode(longer, new LogRecord())).isNotNull();
        });
    }

    @Test
    void aCommittedFieldNotBelowTheLsnIsRefused() {
        ByteBuffer b = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH);
        RecordCodec.encodeHeader(b, RecordOp.ZERO, 0, 1, 5, 5, 0, 4096, 0, RecordCodec.payloadCrc(ByteBuffer.allocate(0)));
        assertThat(RecordCodec.decode(b.flip(), new LogRecord())).contains("committed lsn 5");
    }
}
