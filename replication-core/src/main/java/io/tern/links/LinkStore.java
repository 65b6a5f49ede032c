package io.tern.links;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

import io.tern.log.DurableFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable state of one node for one resource: a folder of symlinks, one per link (see
 * {@link Link} for the target format), so that {@code ls -l} shows the state. Every change is
 * atomic and durable when the call returns: a temp symlink is created, renamed over the old one,
 * and the folder is fsync'd (a symlink's target lives in its inode: the folder's sync commits it).
 *
 * <p>Links carry Lamport times. A local write takes the next time of this store's clock; a link
 * received from another node ({@link #merge}) replaces the local one only if it is newer (ties
 * go to the larger node name, so every node picks the same winner) and moves the clock past it.
 * Deletions are tombstones, which win like any newer value. Nodes that exchange all their links
 * converge to the same state whatever the order of the exchanges.
 *
 * <p>Thread-safe: changes are serialised on the store.
 */
public final class LinkStore {
    private static final Logger log = LoggerFactory.getLogger(LinkStore.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._,:+-]{0,199}");
    private static final String TEMP_PREFIX = ".tmp-";
    /** Far beyond any real clock, far below overflow. */
    private static final long MAX_LAMPORT = 1L << 60;
    /**
     * The most links a store takes from peers: a resource's links are a few per member, so a
     * peer that sends more is flooding the folder and is refused (its session is cut).
     */
    static final int MAX_LINKS = 10_000;

    private final Path dir;
    private final String node;
    private final TreeMap<String, Link> links = new TreeMap<>();
    /** Per link, the local change (see {@link #changesSince}) that last stored it. */
    private final java.util.HashMap<String, Long> changedAt = new java.util.HashMap<>();
    private long clock;
    private long changes;

    private LinkStore(Path dir, String node) {
        this.dir = dir;
        this.node = node;
    }

    /** Opens (creating if needed) the store in {@code dir} for {@code node}; removes temp links a crash left behind. */
    public static LinkStore open(Path dir, String node) throws IOException {
        checkName("node", node);
        io.tern.log.DurableFiles.createDirectories(dir);
        LinkStore store = new LinkStore(dir, node);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (name.startsWith(TEMP_PREFIX)) {
                    Files.deleteIfExists(p); // an interrupted write: the old link, if any, is intact
                    continue;
                }
                if (!Files.isSymbolicLink(p)) {
                    continue;
                }
                Link l = Link.parse(name, Files.readSymbolicLink(p).toString());
                store.links.put(name, l);
                store.changedAt.put(name, ++store.changes);
                store.clock = Math.max(store.clock, l.lamport());
            }
        }
        return store;
    }

    public String node() {
        return node;
    }

    /** The highest Lamport time this store has seen. */
    public synchronized long clock() {
        return clock;
    }

    /** The live value of a link (absent if never set or deleted). */
    public synchronized Optional<String> get(String name) {
        Link l = links.get(name);
        return l == null || l.deleted() ? Optional.empty() : Optional.of(l.value());
    }

    /** The link itself, tombstones included. */
    public synchronized Optional<Link> link(String name) {
        return Optional.ofNullable(links.get(name));
    }

    /** Writes a link as this node, at the next Lamport time; durable when this returns. */
    public synchronized Link put(String name, String value) throws IOException {
        checkName("link", name);
        checkValue(value);
        Link l = new Link(name, value, clock + 1, node, false);
        store(l);
        return l;
    }

    /** Deletes a link by writing a tombstone; durable when this returns. */
    public synchronized Link delete(String name) throws IOException {
        checkName("link", name);
        Link l = new Link(name, null, clock + 1, node, true);
        store(l);
        return l;
    }

    /**
     * Takes a link received from another node if it supersedes the local one.
     *
     * @return whether it was taken
     */
    public synchronized boolean merge(Link remote) throws IOException {
        checkName("link", remote.name());
        checkName("node", remote.node());
        if (!remote.deleted()) {
            checkValue(remote.value());
        }
        if (remote.lamport() > MAX_LAMPORT) {
            throw new IllegalArgumentException("link " + remote.name() + " from " + remote.node() + " has Lamport time "
                    + remote.lamport() + ", beyond any this cluster can reach");
        }
        Link local = links.get(remote.name());
        if (local == null && links.size() >= MAX_LINKS) {
            throw new IllegalArgumentException("link " + remote.name() + " from " + remote.node() + " would be link "
                    + (links.size() + 1) + " of this store, past the " + MAX_LINKS + " it takes");
        }
        clock = Math.max(clock, remote.lamport());
        if (!remote.supersedes(local)) {
            return false;
        }
        store(remote);
        return true;
    }

    /** Every link, tombstones included, in name order: what a node sends to a peer that knows nothing. */
    public synchronized List<Link> all() {
        return new ArrayList<>(links.values());
    }

    /** What {@link #changesSince} returns: links, and the local change count they bring a reader up to. */
    public record Changes(List<Link> links, long upTo) {
    }

    /**
     * The links stored here, written or taken from a peer, after local change {@code seq} (0:
     * all), in name order: what a peer sent everything up to {@code seq} is missing. Counted
     * locally, not by Lamport time: a link relayed from a third node may carry an older Lamport
     * time than links this store already sent, and must still go out. The count restarts with
     * the process; sessions start from 0.
     */
    public synchronized Changes changesSince(long seq) {
        List<Link> out = new ArrayList<>();
        for (Link l : links.values()) {
            if (changedAt.get(l.name()) > seq) {
                out.add(l);
            }
        }
        return new Changes(out, changes);
    }

    private void store(Link l) throws IOException {
        Path tmp = dir.resolve(TEMP_PREFIX + l.name() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.createSymbolicLink(tmp, Path.of(l.target()));
        try {
            Files.move(tmp, dir.resolve(l.name()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        DurableFiles.syncDirectory(dir);
        links.put(l.name(), l);
        changedAt.put(l.name(), ++changes);
        clock = Math.max(clock, l.lamport());
        log.debug("{}: {} -> {}", dir.getFileName(), l.name(), l.target());
    }

    private static void checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " name '" + name + "' must be 1-200 of A-Z a-z 0-9 . _ , : + - "
                    + "starting with a letter or digit");
        }
    }

    private static void checkValue(String value) {
        if (value == null || value.isEmpty() || value.length() > 1024 || value.indexOf('\0') >= 0
                || value.indexOf('/') >= 0 || value.equals(Link.DELETED)) {
            throw new IllegalArgumentException("link value '" + value + "' must be 1-1024 characters without '/' or NUL");
        }
    }
}
