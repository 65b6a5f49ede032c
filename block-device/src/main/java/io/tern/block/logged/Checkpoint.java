package io.tern.block.logged;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;

import io.tern.log.DurableFiles;
import io.tern.log.LogCorruptedException;

/**
 * The durable replay position of a device: every record up to {@code lsn} is applied to the
 * backing store and the store was synced after that. Stored in a small file replaced atomically:
 * <pre>
 *  +--------------+-----------+----------+----------+-----------+
 *  | magic "TRNK" | version 4 | epoch 8  | lsn 8    | crc32c 4  |
 *  +--------------+-----------+----------+----------+-----------+
 * </pre>
 * Little-endian; the checksum covers the 24 bytes before it.
 */
public record Checkpoint(long epoch, long lsn) {
    private static final int MAGIC = 0x4B4E5254;
    private static final int VERSION = 1;
    private static final int LENGTH = 28;

    /** The checkpoint in {@code file}, or {@code (0, 0)} if there is none yet. */
    public static Checkpoint load(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return new Checkpoint(0, 0);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length != LENGTH || b.getInt(0) != MAGIC || b.getInt(4) != VERSION) {
            throw new LogCorruptedException("checkpoint " + file + " is not a version " + VERSION + " checkpoint", 0);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, 24));
        if ((int) crc.getValue() != b.getInt(24)) {
            throw new LogCorruptedException("checkpoint " + file + " fails its checksum", 0);
        }
        return new Checkpoint(b.getLong(8), b.getLong(16));
    }

    /** Replaces the checkpoint in {@code file}; durable when this returns. */
    public void store(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(epoch).putLong(lsn);
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, 24));
        b.putInt((int) crc.getValue()).flip();
        DurableFiles.writeAtomically(file, b);
    }
}
