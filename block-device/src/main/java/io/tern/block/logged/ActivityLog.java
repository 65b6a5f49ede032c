package io.tern.block.logged;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.CRC32C;

import io.tern.log.DurableFiles;
import io.tern.log.LogCorruptedException;

/**
 * Flush mode's activity log (DRBD's idea): the extents of the device that may hold writes the
 * transaction log has not made durable yet. In flush mode a write is applied to the backing store
 * before its record is synced, and the checkpointer may sync the store at any time: after a power
 * cut the store can hold writes whose records are gone. The activity log names every extent where
 * that can be, so that recovery re-logs those extents' current contents as fresh records, and the
 * primary's image and every secondary's agree again.
 *
 * <p>Invariant: before a write is applied to an extent, that extent is in the durable file. An
 * extent leaves the file only when it is rewritten for a new extent, and only if every write
 * applied to it is durable in the log by then ({@link #admit}).
 *
 * <pre>
 *  +--------------+-----------+----------------+---------+-------------------+-----------+
 *  | magic "TRNA" | version 4 | extent size 8  | count 4 | count x extent 8  | crc32c 4  |
 *  +--------------+-----------+----------------+---------+-------------------+-----------+
 * </pre>
 * Little-endian; the checksum covers everything before it. Replaced atomically.
 *
 * <p>Thread contract: one thread (the device's applier) calls {@link #admit}; {@link #load} and
 * {@link #clear} run before the device serves anyone.
 */
final class ActivityLog {
    static final long DEFAULT_EXTENT = 4L << 20;
    private static final int MAGIC = 0x414E5254;
    private static final int VERSION = 1;

    private final Path file;
    private final long extentSize;
    private final int capacity;
    /** The extents in the durable file. */
    private final TreeSet<Long> durable = new TreeSet<>();
    /** The LSN of the last write applied to each extent in the file. */
    private final Map<Long, Long> lastLsn = new HashMap<>();
    private long rewrites;

    private ActivityLog(Path file, long extentSize, int capacity) {
        this.file = file;
        this.extentSize = extentSize;
        this.capacity = capacity;
    }

    /** Loads the activity log in {@code file} (empty if there is none). */
    static ActivityLog load(Path file, long extentSize, int capacity) throws IOException {
        ActivityLog al = new ActivityLog(file, extentSize, capacity);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return al;
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 24 || b.getInt(0) != MAGIC || b.getInt(4) != VERSION) {
            throw new LogCorruptedException("activity log " + file + " is not a version " + VERSION + " activity log", 0);
        }
        int count = b.getInt(16);
        if (count < 0 || bytes.length != 24 + 8L * count) {
            throw new LogCorruptedException("activity log " + file + " has a bad length for " + count + " extents", 0);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, bytes.length - 4));
        if ((int) crc.getValue() != b.getInt(bytes.length - 4)) {
            throw new LogCorruptedException("activity log " + file + " fails its checksum", 0);
        }
        long storedExtent = b.getLong(8);
        for (int i = 0; i < count; i++) {
            long e = b.getLong(20 + 8 * i);
            // Stored in its own extent size: map to this one's extents so nothing is missed.
            long first = e * storedExtent / extentSize;
            long last = (e * storedExtent + storedExtent - 1) / extentSize;
            for (long x = first; x <= last; x++) {
                al.durable.add(x);
            }
        }
        return al;
    }

    long extentSize() {
        return extentSize;
    }

    /** The extents that may hold writes the log lost: recovery re-logs them. */
    TreeSet<Long> extents() {
        return new TreeSet<>(durable);
    }

    /** How often the file was rewritten. */
    long rewrites() {
        return rewrites;
    }

    /**
     * Makes sure every extent of {@code [offset, offset + length)} is in the durable file before
     * a write with {@code lsn} is applied there; rewrites the file once for all new extents.
     * Extents whose writes are all durable in the log ({@code <= durableLsn}) leave the file
     * when it is rewritten.
     *
     * @return false if the file would exceed its capacity with extents that are not durable yet:
     *         the caller syncs the log and asks again
     */
    boolean admit(long[] offsets, long[] lengths, long[] lsns, int count, long durableLsn) throws IOException {
        TreeSet<Long> added = new TreeSet<>();
        for (int i = 0; i < count; i++) {
            if (lengths[i] == 0) {
                continue;
            }
            long first = offsets[i] / extentSize;
            long last = (offsets[i] + lengths[i] - 1) / extentSize;
            for (long e = first; e <= last; e++) {
                lastLsn.merge(e, lsns[i], Math::max);
                if (!durable.contains(e)) {
                    added.add(e);
                }
            }
        }
        if (added.isEmpty()) {
            return true;
        }
        TreeSet<Long> next = new TreeSet<>(added);
        for (long e : durable) {
            if (lastLsn.getOrDefault(e, 0L) > durableLsn) {
                next.add(e);
            }
        }
        if (next.size() > capacity) {
            return false;
        }
        store(next);
        lastLsn.keySet().retainAll(next);
        durable.clear();
        durable.addAll(next);
        return true;
    }

    /** Empties the file (after recovery re-logged its extents and the log synced them). */
    void clear() throws IOException {
        store(new TreeSet<>());
        durable.clear();
        lastLsn.clear();
    }

    private void store(TreeSet<Long> extents) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(24 + 8 * extents.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(extentSize).putInt(extents.size());
        for (long e : extents) {
            b.putLong(e);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, b.position()));
        b.putInt((int) crc.getValue()).flip();
        DurableFiles.writeAtomically(file, b);
        rewrites++;
    }
}
