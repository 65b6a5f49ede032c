package io.tern.replication.sync;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;

import io.tern.log.DurableFiles;

/**
 * A secondary's full-sync progress, stored atomically and durably after each step so a killed
 * sync resumes from its last stored chunk:
 * <ul>
 *   <li>{@code COPYING}: chunks below {@code next} are copied (fsync'd); the primary keeps its
 *       log from {@code start} (0: not agreed yet); {@code end} is the highest LSN any copied
 *       chunk may show.</li>
 *   <li>{@code REPLAYING}: the copy is complete; the log from {@code start} is replayed over it.
 *       The device is Inconsistent until replay passes {@code end}.</li>
 *   <li>{@code DONE}: the device is a consistent prefix of the primary's history.</li>
 * </ul>
 */
public record SyncState(Phase phase, long start, long next, long end) {
    public enum Phase { COPYING, REPLAYING, DONE }

    public static final SyncState NEW = new SyncState(Phase.COPYING, 0, 0, 0);

    /**
     * The stored state; a missing file is a sync still to run ({@link #NEW}), never a finished one:
     * every way a node becomes a secondary stores its state first, so a missing one means it was
     * lost, and only a sync (fast: blocks that differ move) makes the disk trustworthy again.
     */
    public static SyncState load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return NEW;
        }
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        try {
            return new SyncState(Phase.valueOf(p.getProperty("phase").toUpperCase(Locale.ROOT)),
                    Long.parseLong(p.getProperty("start")), Long.parseLong(p.getProperty("next")),
                    Long.parseLong(p.getProperty("end")));
        } catch (RuntimeException e) {
            throw new IOException(file + " is damaged: " + e, e);
        }
    }

    public void store(Path file) throws IOException {
        String text = "phase=" + phase.name().toLowerCase(Locale.ROOT) + "\nstart=" + start + "\nnext=" + next
                + "\nend=" + end + "\n";
        DurableFiles.writeAtomically(file, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }

    public SyncState withStart(long lsn) {
        return new SyncState(phase, lsn, next, end);
    }

    public SyncState copied(long upTo, long lsn) {
        return new SyncState(phase, start, upTo, Math.max(end, lsn));
    }

    public SyncState replaying() {
        return new SyncState(Phase.REPLAYING, start, next, end);
    }

    public SyncState done() {
        return new SyncState(Phase.DONE, start, next, end);
    }
}
