package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The durable list of cuts of one log. Chronicle Queue cannot truncate, so when recovery finds a
 * torn or corrupt record it leaves the bytes where they are and records a <em>cut</em>: from the
 * bad record's queue index on, every excerpt is dead until the first valid record carrying the
 * cut's resume LSN, which is the next record appended after recovery. Stale excerpts after the
 * bad one always carry higher LSNs (they continued the history the bad record was part of), so
 * they can never be taken for the resume record.
 *
 * <p>A new cut that starts before existing ones replaces them: their dead zones and resume
 * records all lie inside the new dead zone. The list is kept in queue order.
 *
 * <p>File {@code cuts} in the log folder, replaced atomically ({@link DurableFiles}):
 * <pre>
 *  +---------+---------+---------+--------------------------------------------------+---------+
 *  | magic 4 | version | count 4 | count x (fromIndex 8, resumeLsn 8, resumeIndex 8) | crc32c 4|
 *  | "TRNC"  | 4       |         | resumeIndex = Long.MAX_VALUE while unknown       | of all  |
 *  +---------+---------+---------+--------------------------------------------------+---------+
 * </pre>
 * Little-endian. The resume index is learnt after the cut is written (when the resume record is
 * appended or found) and saved with the next rewrite; retention saves it before it deletes
 * segments, so that a cut whose whole dead zone was deleted is recognised as obsolete on open.
 *
 * <p>Thread-safety: mutated only while the log opens and under the retention lock; the
 * in-memory {@link Cut} objects are read by readers concurrently.
 */
final class CutList {
    static final String FILE_NAME = "cuts";
    private static final int MAGIC = 0x434E5254;
    private static final int VERSION = 1;
    private static final int MAX_CUTS = 1 << 16;
    private static final int ENTRY = 24;

    /** One cut. {@code resumeIndex} is learnt when the resume record is found or appended. */
    static final class Cut {
        final long fromIndex;
        final long resumeLsn;
        volatile long resumeIndex = Long.MAX_VALUE;

        Cut(long fromIndex, long resumeLsn) {
            this.fromIndex = fromIndex;
            this.resumeLsn = resumeLsn;
        }

        /** Whether the excerpt at {@code index} lies in this cut's dead zone. */
        boolean covers(long index) {
            return index >= fromIndex && index < resumeIndex;
        }

        @Override
        public String toString() {
            return "Cut{fromIndex=" + Long.toHexString(fromIndex) + ", resumeLsn=" + resumeLsn + "}";
        }
    }

    private final Path file;
    private volatile List<Cut> cuts;

    private CutList(Path file, List<Cut> cuts) {
        this.file = file;
        this.cuts = cuts;
    }

    static CutList load(Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        ByteBuffer b;
        try {
            b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (NoSuchFileException e) {
            return new CutList(file, List.of());
        }
        String where = "cut list " + file;
        if (b.remaining() < 16 || b.getInt(0) != MAGIC) {
            throw new LogCorruptedException(where + " has no valid header", 0);
        }
        if (b.getInt(4) != VERSION) {
            throw new LogCorruptedException(where + " has unsupported version " + b.getInt(4), 0);
        }
        int count = b.getInt(8);
        if (count < 0 || count > MAX_CUTS || b.remaining() != 12 + ENTRY * count + 4) {
            throw new LogCorruptedException(where + " has a bad length for " + count + " entries", 0);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, 12 + ENTRY * count));
        if ((int) crc.getValue() != b.getInt(12 + ENTRY * count)) {
            throw new LogCorruptedException(where + " fails its checksum", 0);
        }
        List<Cut> list = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Cut c = new Cut(b.getLong(12 + ENTRY * i), b.getLong(20 + ENTRY * i));
            c.resumeIndex = b.getLong(28 + ENTRY * i);
            list.add(c);
        }
        return new CutList(file, Collections.unmodifiableList(list));
    }

    /** The cuts in queue order. */
    List<Cut> cuts() {
        return cuts;
    }

    /** The cut whose dead zone holds {@code index}, or {@code null}. */
    Cut covering(long index) {
        for (Cut c : cuts) {
            if (c.covers(index)) {
                return c;
            }
        }
        return null;
    }

    /** Durably adds a cut; when this returns, a crash cannot bring the dead excerpts back. */
    Cut add(long fromIndex, long resumeLsn) throws IOException {
        List<Cut> next = new ArrayList<>();
        for (Cut c : cuts) {
            if (c.fromIndex < fromIndex) {
                next.add(c); // cuts at or after the new one lie inside its dead zone
            }
        }
        Cut cut = new Cut(fromIndex, resumeLsn);
        next.add(cut);
        write(next);
        return cut;
    }

    /** Durably saves the resume indices learnt since the list was last written. */
    void saveResumeIndices() throws IOException {
        if (!cuts.isEmpty()) {
            write(new ArrayList<>(cuts));
        }
    }

    /** Durably forgets the cuts whose dead zones end at or before {@code firstIndex}. */
    void dropBefore(long firstIndex) throws IOException {
        List<Cut> next = new ArrayList<>();
        for (Cut c : cuts) {
            if (c.resumeIndex > firstIndex) {
                next.add(c);
            }
        }
        if (next.size() != cuts.size()) {
            write(next);
        }
    }

    private void write(List<Cut> next) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(12 + ENTRY * next.size() + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putInt(next.size());
        for (Cut c : next) {
            b.putLong(c.fromIndex).putLong(c.resumeLsn).putLong(c.resumeIndex);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, b.position()));
        b.putInt((int) crc.getValue()).flip();
        DurableFiles.writeAtomically(file, b);
        cuts = Collections.unmodifiableList(next);
    }
}
