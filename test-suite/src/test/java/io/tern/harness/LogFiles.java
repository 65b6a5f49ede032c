package io.tern.harness;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import io.tern.log.RecordCodec;

/**
 * Reads and damages the files a stopped node keeps for a resource: the segment files of its log
 * and its checkpoint, by the layouts drawn in {@link RecordCodec} and {@code Checkpoint}. Only
 * for a resource whose node is not running.
 */
public final class LogFiles {
    // Fields of a record header (RecordCodec's table); all little-endian.
    private static final int OFF_LSN = 16;
    private static final int OFF_COMMITTED = 24;
    private static final int OFF_PAYLOAD_LENGTH = 44;
    private static final int OFF_HEADER_CRC = 52;
    // The checkpoint file: magic "TRNK", version u32, epoch u64, lsn u64, crc32c.
    private static final int CHECKPOINT_MAGIC = 0x4B4E5254;
    private static final int CHECKPOINT_LENGTH = 28;

    /** Where a record lies and what its header says. */
    public record RecordAt(Path file, long position, long lsn, long committed, int payloadLength) {
        /** The file position of byte {@code i} of the payload. */
        public long payload(int i) {
            return position + RecordCodec.HEADER_LENGTH + i;
        }
    }

    private LogFiles() {
    }

    /**
     * The record with {@code lsn}: a magic at any byte offset of a segment file, a valid header
     * checksum and that LSN. The newest copy if a recycled segment holds a stale one too.
     */
    public static RecordAt find(Path logDir, long lsn) throws IOException {
        RecordAt found = null;
        for (Path f : segments(logDir)) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i + RecordCodec.HEADER_LENGTH <= b.limit(); i++) {
                if (b.getInt(i) != RecordCodec.MAGIC || b.getLong(i + OFF_LSN) != lsn) {
                    continue;
                }
                CRC32C crc = new CRC32C();
                crc.update(b.slice(i, OFF_HEADER_CRC));
                if ((int) crc.getValue() == b.getInt(i + OFF_HEADER_CRC)) {
                    found = new RecordAt(f, i, lsn, b.getLong(i + OFF_COMMITTED), b.getInt(i + OFF_PAYLOAD_LENGTH));
                }
            }
        }
        if (found == null) {
            throw new AssertionError("record lsn " + lsn + " not found in " + logDir);
        }
        return found;
    }

    /** Flips bits of the byte at {@code position} of {@code file}. */
    public static void flipByte(Path file, long position) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            if (ch.read(one, position) != 1) {
                throw new AssertionError(file + " has no byte at " + position);
            }
            one.put(0, (byte) (one.get(0) ^ 0x5A)).rewind();
            ch.write(one, position);
            ch.force(false);
        }
    }

    /** The LSN a resource's checkpoint file says is applied and synced (0 if it has none). */
    public static long checkpointLsn(Path checkpointFile) throws IOException {
        if (!Files.exists(checkpointFile)) {
            return 0;
        }
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(checkpointFile)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.limit() != CHECKPOINT_LENGTH || b.getInt(0) != CHECKPOINT_MAGIC || b.getInt(4) != 1) {
            throw new AssertionError(checkpointFile + " is not a version 1 checkpoint");
        }
        return b.getLong(16);
    }

    /** SHA-256 of every file in {@code dir} (not below it), by name. */
    public static Map<String, String> digests(Path dir) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                m.put(p.getFileName().toString(), Replication.sha256(p));
            }
        }
        return m;
    }

    /**
     * Tears the log at record {@code lsn}, as writes lost in the middle of a batch would: its
     * header stays, its payload and everything after it in its segment file become zeros, and
     * the segment files after it are deleted. Recovery finds a torn tail there and cuts it. The
     * record must carry a payload that is not all zeros. The node must be down.
     */
    public static void tearAt(Path logDir, long lsn) throws IOException {
        RecordAt at = find(logDir, lsn);
        if (at.payloadLength() == 0) {
            throw new AssertionError("record lsn " + lsn + " has no payload to tear");
        }
        zeroFrom(logDir, at, at.payload(0));
    }

    /**
     * Takes back record {@code lsn} and all after it without a trace, as a disk that lost
     * acknowledged writes would: zeros from its header on, later segment files deleted. Recovery
     * sees a log that simply ends before it. The node must be down.
     */
    public static void loseFrom(Path logDir, long lsn) throws IOException {
        RecordAt at = find(logDir, lsn);
        zeroFrom(logDir, at, at.position());
    }

    private static void zeroFrom(Path logDir, RecordAt at, long from) throws IOException {
        try (FileChannel ch = FileChannel.open(at.file(), StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            long size = ch.size();
            for (long p = from; p < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - p));
                p += ch.write(zeros, p);
            }
            ch.force(false);
        }
        for (Path f : segments(logDir)) {
            if (f.getFileName().toString().compareTo(at.file().getFileName().toString()) > 0) {
                Files.delete(f);
            }
        }
    }

    private static List<Path> segments(Path logDir) throws IOException {
        try (Stream<Path> s = Files.list(logDir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg")).sorted().toList();
        }
    }
}
