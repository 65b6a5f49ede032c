package io.tern.replication.history;

import java.io.IOException;
import java.nio.file.Path;

/**
 * This node's history of one resource, kept in its file ({@code history} in the resource's
 * folder). Every change is durable before it is visible, and before the log holds the EPOCH
 * record it describes: a crash between the two leaves a head the log does not reach yet, which
 * the opener repairs ({@link #dropHeadBeyond}).
 *
 * <p>Thread-safe.
 */
public final class LocalHistory {
    private final Path file;
    private volatile History history;

    private LocalHistory(Path file, History history) {
        this.file = file;
        this.history = history;
    }

    public static LocalHistory open(Path file) throws IOException {
        return new LocalHistory(file, History.load(file));
    }

    public History get() {
        return history;
    }

    /** Appends {@code next} (which must follow the head), durably. */
    public synchronized void append(Version next) throws IOException {
        History h = history.with(next);
        h.store(file);
        history = h;
    }

    /** Replaces the whole history (a full sync adopts its primary's), durably. */
    public synchronized void replace(History h) throws IOException {
        h.store(file);
        history = h;
    }

    /**
     * Drops head versions whose EPOCH record the log does not hold: their start lies past
     * {@code lastLsn}, so no peer can have seen them.
     *
     * @return whether anything was dropped
     */
    public synchronized boolean dropHeadBeyond(long lastLsn) throws IOException {
        History h = history;
        while (h.head() != null && h.head().start() > lastLsn) {
            h = h.withoutHead();
        }
        if (h == history) {
            return false;
        }
        h.store(file);
        history = h;
        return true;
    }

    /**
     * Accepts a version met in the log received from a primary: the head again (a record
     * received twice) is fine; one that follows the head is appended.
     *
     * @throws IllegalStateException if it neither is nor follows the head: the primary's history
     *                               forked from this node's
     */
    public synchronized void received(Version v) throws IOException {
        Version head = history.head();
        if (v.sameAs(head)) {
            return;
        }
        if (head != null && !v.follows(head)) {
            throw new IllegalStateException("received " + v + ", which does not follow this node's " + head
                    + ": the histories diverge");
        }
        append(v);
    }
}
