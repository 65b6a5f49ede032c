package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/** Finds a record's bytes inside the segment files of a closed log, so tests can damage them. */
final class RecordLocator {
    record Location(Path file, long position) {
    }

    private RecordLocator() {
    }

    /** The newest record with that LSN (stale copies inside a cut come before it). */
    static Location find(Path dir, long lsn) throws IOException {
        Location found = null;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
        }
        for (Path f : files) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i + RecordCodec.HEADER_LENGTH <= b.limit(); i++) {
                if (b.getInt(i) == RecordCodec.MAGIC && b.getLong(i + RecordCodec.OFF_LSN) == lsn) {
                    CRC32C crc = new CRC32C();
                    crc.update(b.slice(i, RecordCodec.OFF_HEADER_CRC));
                    if ((int) crc.getValue() == b.getInt(i + RecordCodec.OFF_HEADER_CRC)) {
                        found = new Location(f, i);
                    }
                }
            }
        }
        if (found == null) {
            throw new AssertionError("record lsn " + lsn + " not found in " + dir);
        }
        return found;
    }

    static void flipByte(Location at, long delta) throws IOException {
        try (FileChannel ch = FileChannel.open(at.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, at.position() + delta);
            one.put(0, (byte) (one.get(0) ^ 0x5A)).rewind();
            ch.write(one, at.position() + delta);
        }
    }

    static void zero(Location at, long delta, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(at.file(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(length), at.position() + delta);
        }
    }
}
