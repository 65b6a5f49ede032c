package io.tern.replication.history;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import io.tern.log.DurableFiles;

/**
 * The versions one node's log went through, oldest first: each version follows the one before
 * it ({@link Version#follows}), in rising epochs and start LSNs. Together with the node's last
 * LSN it says exactly which records the node holds: those of version {@code i} are
 * {@code [start(i), start(i+1))}, and the last version's run to the last LSN. Within one version
 * only one primary writes, so two nodes agree on every LSN covered by a version both hold there.
 *
 * <p>Kept in the file {@code history} of the resource's folder, one {@link Version#toLine()} per
 * line, replaced atomically. Immutable.
 */
public final class History {
    /** Versions a HELLO or WELCOME carries at most (the newest; older ones are common to any two live peers). */
    public static final int MAX_WIRE_VERSIONS = 256;
    private static final String HEADER = "# tern history: epoch node start-lsn previous-digest digest";

    private static final History EMPTY = new History(List.of());

    private final List<Version> versions;

    private History(List<Version> versions) {
        this.versions = versions;
    }

    public static History empty() {
        return EMPTY;
    }

    /**
     * A history of these versions.
     *
     * @throws IllegalArgumentException if a version does not follow the one before it
     */
    public static History of(List<Version> versions) {
        for (int i = 1; i < versions.size(); i++) {
            check(versions.get(i - 1), versions.get(i));
        }
        return new History(List.copyOf(versions));
    }

    private static void check(Version before, Version next) {
        if (!next.follows(before) || next.epoch() <= before.epoch() || next.start() <= before.start()) {
            throw new IllegalArgumentException(next + " does not follow " + before);
        }
    }

    /** This history with {@code next} appended: it must follow the head, with a higher epoch and start. */
    public History with(Version next) {
        Version head = head();
        if (head != null) {
            check(head, next);
        }
        List<Version> l = new ArrayList<>(versions);
        l.add(next);
        return new History(Collections.unmodifiableList(l));
    }

    /** This history without its head. */
    public History withoutHead() {
        return versions.isEmpty() ? this : new History(versions.subList(0, versions.size() - 1));
    }

    public List<Version> versions() {
        return versions;
    }

    public boolean isEmpty() {
        return versions.isEmpty();
    }

    /** The newest version, or {@code null}. */
    public Version head() {
        return versions.isEmpty() ? null : versions.get(versions.size() - 1);
    }

    /** The head's epoch, 0 if there is none. */
    public long epoch() {
        Version h = head();
        return h == null ? 0 : h.epoch();
    }

    /** The head's digest, or {@link Version#ROOT} if there is none. */
    public byte[] headDigest() {
        Version h = head();
        return h == null ? Version.ROOT : h.digest();
    }

    /** The newest versions, at most {@link #MAX_WIRE_VERSIONS}: what a peer is told. */
    public List<Version> forWire() {
        int n = versions.size();
        return versions.subList(Math.max(0, n - MAX_WIRE_VERSIONS), n);
    }

    /** The versions that start at or before {@code lsn}: the history of a log that ends there. */
    public History upTo(long lsn) {
        int n = 0;
        while (n < versions.size() && versions.get(n).start() <= lsn) {
            n++;
        }
        return n == versions.size() ? this : new History(versions.subList(0, n));
    }

    /** The version holding {@code lsn} on this branch, or {@code null} if {@code lsn} lies before the first. */
    public Version versionAt(long lsn) {
        Version found = null;
        for (Version v : versions) {
            if (v.start() > lsn) {
                break;
            }
            found = v;
        }
        return found;
    }

    /**
     * Where two nodes' logs part: {@code mine} up to {@code myLast}, {@code theirs} up to
     * {@code theirLast}. The common prefix is the run of versions both hold (by digest) and,
     * in the last of them, the LSNs both reach. Each side holds {@code past} records beyond it;
     * when both do, the histories forked.
     *
     * <p>A side without versions is taken as agreeing with the other up to the shorter log.
     * {@code theirs} may be the newest part of a longer history ({@link #forWire}): versions
     * older than its first are taken as common when {@code mine} holds its first.
     */
    public static Divergence compare(History mine, long myLast, History theirs, long theirLast) {
        List<Version> a = mine.versions;
        List<Version> b = theirs.versions;
        if (a.isEmpty() || b.isEmpty()) {
            // A log without versions (a bare log, as in the log-level tests) tells nothing: LSNs alone.
            long common = Math.min(myLast, theirLast);
            return new Divergence(common, myLast - common, theirLast - common, null);
        }
        int i = 0;
        int j = 0;
        if (!b.isEmpty() && !a.isEmpty() && !b.get(0).sameAs(a.get(0))) {
            // A history cut for the wire: align on its first version, if this one holds it.
            int at = indexOf(a, b.get(0));
            if (at > 0) {
                i = at;
            } else {
                int back = indexOf(b, a.get(0));
                if (back > 0) {
                    j = back;
                }
            }
        }
        int common = 0;
        while (i + common < a.size() && j + common < b.size() && a.get(i + common).sameAs(b.get(j + common))) {
            common++;
        }
        long commonEnd;
        Version lastCommon = null;
        if (common == 0) {
            commonEnd = 0; // nothing in common: they part before the first record
        } else {
            int ai = i + common - 1;
            int bj = j + common - 1;
            lastCommon = a.get(ai);
            long endA = ai + 1 < a.size() ? a.get(ai + 1).start() - 1 : myLast;
            long endB = bj + 1 < b.size() ? b.get(bj + 1).start() - 1 : theirLast;
            commonEnd = Math.min(endA, endB);
        }
        return new Divergence(commonEnd, Math.max(0, myLast - commonEnd), Math.max(0, theirLast - commonEnd), lastCommon);
    }

    private static int indexOf(List<Version> l, Version v) {
        for (int k = 0; k < l.size(); k++) {
            if (l.get(k).sameAs(v)) {
                return k;
            }
        }
        return -1;
    }

    /**
     * The outcome of {@link #compare}.
     *
     * @param commonLsn  the last LSN both logs agree on (the fork point when they forked)
     * @param minePast   records this side holds past it
     * @param theirsPast records the other side holds past it
     * @param lastCommon the newest version both hold, or {@code null}
     */
    public record Divergence(long commonLsn, long minePast, long theirsPast, Version lastCommon) {
        /** Both hold records past the common prefix: neither log is a prefix of the other. */
        public boolean forked() {
            return minePast > 0 && theirsPast > 0;
        }
    }

    // ------------------------------------------------------------------ the history file

    /**
     * The history in {@code file}; empty if there is none.
     *
     * @throws IllegalArgumentException if the file is malformed or its versions do not chain
     */
    public static History load(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return EMPTY;
        }
        List<Version> vs = new ArrayList<>();
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            try {
                vs.add(Version.parseLine(line));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
            }
        }
        try {
            return of(vs);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Replaces {@code file} with this history; durable when this returns. */
    public void store(Path file) throws IOException {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (Version v : versions) {
            sb.append(v.toLine()).append('\n');
        }
        DurableFiles.writeAtomically(file, ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof History h && versions.equals(h.versions);
    }

    @Override
    public int hashCode() {
        return versions.hashCode();
    }

    @Override
    public String toString() {
        return versions.isEmpty() ? "(no history)" : versions.toString();
    }
}
