package io.tern.log;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Encodes and decodes log records. The layout is fixed and little-endian:
 *
 * <pre>
 *  offset size field
 *  +------+----+--------------------------------------------------------------+
 *  |   0  |  4 | magic 0x524E5254 ("TRNR" on disk)                            |
 *  |   4  |  1 | format version (2)                                           |
 *  |   5  |  1 | op: 1 WRITE, 2 ZERO, 3 EPOCH                                 |
 *  |   6  |  2 | flags: bit 0 FUA; other bits must be 0                       |
 *  |   8  |  8 | epoch (&gt;= 0)                                                 |
 *  |  16  |  8 | lsn (&gt;= 1)                                                    |
 *  |  24  |  8 | committed: last lsn known durable when this record was       |
 *  |      |    | written by the primary (0 &lt;= committed &lt; lsn)                |
 *  |  32  |  8 | device offset (&gt;= 0; offset + length does not overflow)       |
 *  |  40  |  4 | length: bytes of device covered (WRITE, ZERO), 0 for EPOCH   |
 *  |  44  |  4 | payload length: = length (WRITE), 0 (ZERO), 32..287 (EPOCH) |
 *  |  48  |  4 | crc32c of the payload                                        |
 *  |  52  |  4 | crc32c of bytes [0, 52) of this header                       |
 *  +------+----+--------------------------------------------------------------+
 *  |  56  |  n | payload                                                      |
 *  +------+----+--------------------------------------------------------------+
 * </pre>
 *
 * <p>The committed field lets recovery tell a torn tail from corruption: a bad record at lsn E
 * followed by an intact record whose committed field is at least E cannot be a torn write (E had
 * been made durable before the later record was even written), so acknowledged data was damaged.
 *
 * <p>Two checksums: the payload's is computed by the writer's own thread (so the appender thread
 * does not checksum megabytes), the header's covers every field including the payload checksum,
 * so any flipped bit anywhere in a record is caught. Every field is bounded when decoded; a
 * record that fails any check is never returned.
 *
 * <p>Stateless and thread-safe; the {@link CRC32C} instances are per call (they are cheap and
 * intrinsified).
 */
public final class RecordCodec {
    public static final int MAGIC = 0x524E5254;
    public static final byte VERSION = 2;
    public static final int HEADER_LENGTH = 56;
    /** Largest payload a record may carry: 32 MiB, the NBD maximum request size. */
    public static final int MAX_PAYLOAD = 32 << 20;
    /** Largest extent a ZERO record may cover. */
    public static final int MAX_ZERO_LENGTH = Integer.MAX_VALUE;
    public static final int EPOCH_DIGEST_LENGTH = 32;
    /** Longest EPOCH payload: the previous version's digest and the name of the primary that starts the epoch. */
    public static final int MAX_EPOCH_PAYLOAD = EPOCH_DIGEST_LENGTH + 255;
    public static final short FLAG_FUA = 1;
    private static final short KNOWN_FLAGS = FLAG_FUA;

    static final int OFF_MAGIC = 0;
    static final int OFF_VERSION = 4;
    static final int OFF_OP = 5;
    static final int OFF_FLAGS = 6;
    static final int OFF_EPOCH = 8;
    static final int OFF_LSN = 16;
    static final int OFF_COMMITTED = 24;
    static final int OFF_DEVICE_OFFSET = 32;
    static final int OFF_LENGTH = 40;
    static final int OFF_PAYLOAD_LENGTH = 44;
    static final int OFF_PAYLOAD_CRC = 48;
    static final int OFF_HEADER_CRC = 52;

    private RecordCodec() {
    }

    /** The crc32c of a payload's remaining bytes; does not move its position. */
    public static int payloadCrc(ByteBuffer payload) {
        CRC32C crc = new CRC32C();
        crc.update(payload.duplicate());
        return (int) crc.getValue();
    }

    /**
     * Checks the fields of a record before it is encoded.
     *
     * @throws IllegalArgumentException naming the field that is out of bounds
     */
    public static void validate(RecordOp op, int flags, long epoch, long lsn, long offset, int length, int payloadLength) {
        if (op == null) {
            throw new IllegalArgumentException("record op is null");
        }
        String problem = check(op, flags, epoch, lsn, offset, length, payloadLength);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /**
     * Writes a header at {@code header}'s position (which must have {@link #HEADER_LENGTH} bytes
     * remaining) and advances it. The fields must have passed {@link #validate}.
     */
    public static void encodeHeader(ByteBuffer header, RecordOp op, int flags, long epoch, long lsn, long committed,
                                    long offset, int length, int payloadLength, int payloadCrc) {
        ByteBuffer h = header.slice().order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(OFF_MAGIC, MAGIC)
                .put(OFF_VERSION, VERSION)
                .put(OFF_OP, op.code())
                .putShort(OFF_FLAGS, (short) flags)
                .putLong(OFF_EPOCH, epoch)
                .putLong(OFF_LSN, lsn)
                .putLong(OFF_COMMITTED, committed)
                .putLong(OFF_DEVICE_OFFSET, offset)
                .putInt(OFF_LENGTH, length)
                .putInt(OFF_PAYLOAD_LENGTH, payloadLength)
                .putInt(OFF_PAYLOAD_CRC, payloadCrc);
        h.putInt(OFF_HEADER_CRC, headerCrc(h));
        header.position(header.position() + HEADER_LENGTH);
    }

    /**
     * Decodes and verifies the record in {@code buf} from its position to its limit (exactly one
     * record: trailing bytes are an error). On success fills {@code into} (its payload is a slice
     * of {@code buf}, valid as long as {@code buf}'s content is) and returns {@code null}; on
     * failure returns why, and {@code into} is left in an unspecified state.
     */
    public static String decode(ByteBuffer buf, LogRecord into) {
        ByteBuffer b = buf.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < HEADER_LENGTH) {
            return "record of " + b.remaining() + " bytes is shorter than its header (" + HEADER_LENGTH + ")";
        }
        String problem = headerProblem(b);
        if (problem != null) {
            return problem;
        }
        RecordOp op = RecordOp.fromCode(b.get(OFF_OP));
        int flags = b.getShort(OFF_FLAGS) & 0xFFFF;
        long epoch = b.getLong(OFF_EPOCH);
        long lsn = b.getLong(OFF_LSN);
        long committed = b.getLong(OFF_COMMITTED);
        long offset = b.getLong(OFF_DEVICE_OFFSET);
        int length = b.getInt(OFF_LENGTH);
        int payloadLength = b.getInt(OFF_PAYLOAD_LENGTH);
        if (b.remaining() != HEADER_LENGTH + payloadLength) {
            return "record holds " + (b.remaining() - HEADER_LENGTH) + " payload bytes, header says " + payloadLength;
        }
        ByteBuffer payload = b.slice(HEADER_LENGTH, payloadLength);
        if (payloadCrc(payload) != b.getInt(OFF_PAYLOAD_CRC)) {
            return "payload checksum mismatch";
        }
        into.set(op, flags, epoch, lsn, committed, offset, length, payload, b);
        return null;
    }

    /**
     * Verifies the header at {@code buf}'s position (at least {@link #HEADER_LENGTH} bytes, little
     * endian or not) without its payload: magic, header checksum, version and bounds. Returns why
     * it is bad, or {@code null}; then {@link #lsnOf}, {@link #committedOf} and
     * {@link #recordLength} may be read from it. Does not move {@code buf}'s position.
     */
    public static String checkHeader(ByteBuffer buf) {
        if (buf.remaining() < HEADER_LENGTH) {
            return "only " + buf.remaining() + " bytes where a " + HEADER_LENGTH + "-byte header was expected";
        }
        return headerProblem(buf.slice(buf.position(), HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN));
    }

    /** What is wrong with the little-endian header at {@code b}'s start, or {@code null}. */
    private static String headerProblem(ByteBuffer b) {
        if (b.getInt(OFF_MAGIC) != MAGIC) {
            return String.format("bad magic 0x%08x", b.getInt(OFF_MAGIC));
        }
        if (headerCrc(b) != b.getInt(OFF_HEADER_CRC)) {
            return "header checksum mismatch";
        }
        if (b.get(OFF_VERSION) != VERSION) {
            return "unsupported record format version " + b.get(OFF_VERSION);
        }
        RecordOp op = RecordOp.fromCode(b.get(OFF_OP));
        if (op == null) {
            return "unknown record op " + b.get(OFF_OP);
        }
        long lsn = b.getLong(OFF_LSN);
        long committed = b.getLong(OFF_COMMITTED);
        String problem = check(op, b.getShort(OFF_FLAGS) & 0xFFFF, b.getLong(OFF_EPOCH), lsn, b.getLong(OFF_DEVICE_OFFSET),
                b.getInt(OFF_LENGTH), b.getInt(OFF_PAYLOAD_LENGTH));
        if (problem == null && (committed < 0 || committed >= lsn)) {
            problem = "committed lsn " + committed + " is not below the record's lsn " + lsn;
        }
        return problem;
    }

    /** The LSN of a header that passed {@link #checkHeader} at {@code buf}'s position. */
    public static long lsnOf(ByteBuffer buf) {
        return buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(buf.position() + OFF_LSN);
    }

    /** The committed LSN of a header that passed {@link #checkHeader} at {@code buf}'s position. */
    public static long committedOf(ByteBuffer buf) {
        return buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(buf.position() + OFF_COMMITTED);
    }

    /** The op of a header that passed {@link #checkHeader} at {@code buf}'s position. */
    public static RecordOp opOf(ByteBuffer buf) {
        return RecordOp.fromCode(buf.get(buf.position() + OFF_OP));
    }

    /** The epoch of a header that passed {@link #checkHeader} at {@code buf}'s position. */
    public static long epochOf(ByteBuffer buf) {
        return buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(buf.position() + OFF_EPOCH);
    }

    /** Header plus payload length of a header that passed {@link #checkHeader} at {@code buf}'s position. */
    public static int recordLength(ByteBuffer buf) {
        return HEADER_LENGTH + buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(buf.position() + OFF_PAYLOAD_LENGTH);
    }

    private static int headerCrc(ByteBuffer header) {
        CRC32C crc = new CRC32C();
        crc.update(header.slice(0, OFF_HEADER_CRC));
        return (int) crc.getValue();
    }

    private static String check(RecordOp op, int flags, long epoch, long lsn, long offset, int length, int payloadLength) {
        if ((flags & ~KNOWN_FLAGS) != 0) {
            return "unknown record flags 0x" + Integer.toHexString(flags);
        }
        if (epoch < 0) {
            return "negative epoch " + epoch;
        }
        if (lsn < 1) {
            return "lsn " + lsn + " is below 1";
        }
        if (offset < 0 || length < 0 || offset + length < 0) {
            return "device extent offset=" + offset + " length=" + length + " is out of range";
        }
        switch (op) {
            case WRITE:
                if (payloadLength != length || length > MAX_PAYLOAD) {
                    return "WRITE of " + length + " bytes with payload " + payloadLength + " (max " + MAX_PAYLOAD + ")";
                }
                break;
            case ZERO:
                if (payloadLength != 0) {
                    return "ZERO carries a payload of " + payloadLength + " bytes";
                }
                break;
            case EPOCH:
                if (length != 0 || offset != 0 || payloadLength < EPOCH_DIGEST_LENGTH || payloadLength > MAX_EPOCH_PAYLOAD) {
                    return "EPOCH with length " + length + ", offset " + offset + ", payload " + payloadLength;
                }
                break;
            default:
                return "unhandled op " + op;
        }
        return null;
    }
}
