package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * One segment file of the log: {@code <first lsn, 20 digits>.seg}, of a fixed size allocated and
 * zeroed before it is used, so the append path never extends a file. It starts with a header,
 * then holds records back to back; the space after the last record is zeros, or stale records of
 * an earlier life when the file was recycled (their LSNs lie below this segment's first LSN, so
 * they can never be taken for live ones).
 *
 * <pre>
 *  offset size field
 *  +------+----+--------------------------------------------------+
 *  |   0  |  4 | magic 0x534E5254 ("TRNS" on disk)                |
 *  |   4  |  1 | format version (1)                               |
 *  |   5  |  3 | zero                                             |
 *  |   8  |  8 | segment size in bytes when it was prepared       |
 *  |  16  |  8 | first lsn (equals the number in the file's name) |
 *  |  24  | 36 | zero                                             |
 *  |  60  |  4 | crc32c of bytes [0, 60)                          |
 *  +------+----+--------------------------------------------------+
 *  |  64  |    | records                                          |
 *  +------+----+--------------------------------------------------+
 * </pre>
 *
 * <p>Thread contract: the appender thread writes (through {@link #channel()} at its own
 * position) and adds index entries; any thread reads with positional reads and reads the index.
 * {@link #sealedEnd()} is set once, by the appender when it rolls to the next segment, before
 * any record of the next segment becomes durable: a reader that finds a durable LSN past this
 * segment's records finds the seal.
 */
final class Segment implements AutoCloseable {
    static final int MAGIC = 0x534E5254;
    static final byte VERSION = 1;
    static final int HEADER_LENGTH = 64;
    private static final int OFF_SIZE = 8;
    private static final int OFF_FIRST_LSN = 16;
    private static final int OFF_CRC = 60;
    /** A sparse index entry every this many bytes of records. */
    private static final int INDEX_STRIDE = 256 << 10;

    private final Path path;
    private final long firstLsn;
    private final long size;
    private final FileChannel channel;
    // Sparse index: lsn and position of the first record at or after each stride. Single writer
    // (the appender, or recovery before the log is shared); entries are written before the count
    // that publishes them.
    private volatile long[] indexLsn = new long[16];
    private volatile long[] indexPos = new long[16];
    private volatile int indexCount;
    private long nextIndexAt = HEADER_LENGTH;
    private volatile long sealedEnd = -1;

    Segment(Path path, long firstLsn, long size, FileChannel channel) {
        this.path = path;
        this.firstLsn = firstLsn;
        this.size = size;
        this.channel = channel;
    }

    static String fileName(long firstLsn) {
        return String.format("%020d.seg", firstLsn);
    }

    /** The first LSN named by a segment file name, or -1 if the name is not a segment's. */
    static long parseName(String name) {
        if (name.length() != 24 || !name.endsWith(".seg")) {
            return -1;
        }
        for (int i = 0; i < 20; i++) {
            if (!Character.isDigit(name.charAt(i))) {
                return -1;
            }
        }
        return Long.parseLong(name.substring(0, 20));
    }

    /** Encodes a segment header into {@code into} (64 bytes from its position, which advances). */
    static void encodeHeader(ByteBuffer into, long size, long firstLsn) {
        ByteBuffer h = into.slice(into.position(), HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < HEADER_LENGTH; i++) {
            h.put(i, (byte) 0);
        }
        h.putInt(0, MAGIC).put(4, VERSION).putLong(OFF_SIZE, size).putLong(OFF_FIRST_LSN, firstLsn);
        h.putInt(OFF_CRC, crc(h));
        into.position(into.position() + HEADER_LENGTH);
    }

    /**
     * Reads and checks the header of a segment file.
     *
     * @return why it is not a valid header for a segment of {@code fileSize} bytes starting at
     *         {@code firstLsn}, or {@code null} if it is
     */
    static String checkHeader(FileChannel ch, long fileSize, long firstLsn) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h, 0);
        h.flip();
        if (h.remaining() < HEADER_LENGTH) {
            return "file of " + fileSize + " bytes is shorter than a segment header";
        }
        if (h.getInt(0) != MAGIC) {
            return String.format("bad segment magic 0x%08x", h.getInt(0));
        }
        if (crc(h) != h.getInt(OFF_CRC)) {
            return "segment header checksum mismatch";
        }
        if (h.get(4) != VERSION) {
            return "unsupported segment format version " + h.get(4);
        }
        if (h.getLong(OFF_FIRST_LSN) != firstLsn) {
            return "segment header says first lsn " + h.getLong(OFF_FIRST_LSN) + ", its name " + firstLsn;
        }
        return null;
    }

    private static int crc(ByteBuffer h) {
        CRC32C c = new CRC32C();
        c.update(h.slice(0, OFF_CRC));
        return (int) c.getValue();
    }

    /** Reads from {@code position} until {@code dst} is full or the file ends. */
    static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position);
            if (n < 0) {
                return;
            }
            position += n;
        }
    }

    Path path() {
        return path;
    }

    long firstLsn() {
        return firstLsn;
    }

    long size() {
        return size;
    }

    FileChannel channel() {
        return channel;
    }

    /** Where this segment's records end once it is sealed (rolled past); -1 while it is the tail. */
    long sealedEnd() {
        return sealedEnd;
    }

    void seal(long end) {
        sealedEnd = end;
    }

    /** Notes that the record {@code lsn} starts at {@code position}; single writer, in LSN order. */
    void indexed(long lsn, long position) {
        if (position < nextIndexAt) {
            return;
        }
        int n = indexCount;
        if (n == indexLsn.length) {
            long[] l = java.util.Arrays.copyOf(indexLsn, n * 2);
            long[] p = java.util.Arrays.copyOf(indexPos, n * 2);
            indexLsn = l;
            indexPos = p;
        }
        indexLsn[n] = lsn;
        indexPos[n] = position;
        indexCount = n + 1;
        nextIndexAt = (position / INDEX_STRIDE + 1) * INDEX_STRIDE;
    }

    /**
     * A position at or before the record {@code lsn}, and the LSN of the record there: the start
     * from which a reader scans forward to {@code lsn}. Returns {@code {firstLsn, HEADER_LENGTH}}
     * when no index entry lies at or below {@code lsn}.
     */
    long[] floor(long lsn) {
        int n = indexCount;
        long[] l = indexLsn;
        long[] p = indexPos;
        int lo = 0;
        int hi = n - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (l[mid] <= lsn) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found < 0 ? new long[] {firstLsn, HEADER_LENGTH} : new long[] {l[found], p[found]};
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return path.getFileName().toString();
    }
}
