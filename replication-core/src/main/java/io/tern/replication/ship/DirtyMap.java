package io.tern.replication.ship;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.BitSet;
import java.util.Properties;

import io.tern.log.DurableFiles;
import io.tern.replication.protocol.Messages;

/**
 * What a member missed while its primary ran Ahead of it: the primary dropped log records the
 * member had not replayed, and kept instead the chunks ({@link Messages#DIRTY_CHUNK} bytes each)
 * those records wrote. A member whose disk is consistent at {@code base} or later needs those
 * chunks copied and then the log from {@code through + 1}, which the primary keeps for it.
 *
 * @param base    the member's position when the primary first went Ahead of it
 * @param through the last LSN whose writes the map covers (the log keeps what follows)
 * @param chunks  the chunks written by records in {@code (base, through]}
 */
public record DirtyMap(long base, long through, BitSet chunks) {
    public DirtyMap {
        if (base < 0 || through < base) {
            throw new IllegalArgumentException("a dirty map from lsn " + base + " through " + through);
        }
        chunks = (BitSet) chunks.clone();
    }

    @Override
    public BitSet chunks() {
        return (BitSet) chunks.clone();
    }

    /** Bytes of the device the map marks (whole chunks). */
    public long bytes() {
        return (long) chunks.cardinality() * Messages.DIRTY_CHUNK;
    }

    /** Marks in {@code chunks} the chunks a write of {@code length} bytes at {@code offset} touches. */
    public static void mark(BitSet chunks, long offset, long length) {
        if (length <= 0) {
            return;
        }
        int first = (int) (offset / Messages.DIRTY_CHUNK);
        int last = (int) ((offset + length - 1) / Messages.DIRTY_CHUNK);
        chunks.set(first, last + 1);
    }

    /** The map covering writes through {@code lsn} too, with {@code more} chunks. */
    public DirtyMap extended(long lsn, BitSet more) {
        BitSet all = chunks();
        all.or(more);
        return new DirtyMap(base, Math.max(through, lsn), all);
    }

    public static DirtyMap load(Path file) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        try {
            return new DirtyMap(Long.parseLong(p.getProperty("base")), Long.parseLong(p.getProperty("through")),
                    BitSet.valueOf(Base64.getDecoder().decode(p.getProperty("chunks", ""))));
        } catch (RuntimeException e) {
            throw new IOException(file + " is damaged: " + e, e);
        }
    }

    /** Stores the map atomically and durably: it must be on disk before the records it replaces go. */
    public void store(Path file) throws IOException {
        String text = "# chunks of " + Messages.DIRTY_CHUNK + " bytes written past lsn " + base + " by records the log"
                + " no longer holds\nbase=" + base + "\nthrough=" + through + "\nchunks="
                + Base64.getEncoder().encodeToString(chunks.toByteArray()) + "\n";
        DurableFiles.writeAtomically(file, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }
}
