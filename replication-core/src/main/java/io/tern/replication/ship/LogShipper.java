package io.tern.replication.ship;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The primary's side of replication for one resource: the sessions of its secondaries (served by
 * a {@link ReplicationServer}) read its log from wherever each asks, and a full sync reads its
 * device chunk by chunk on the shipper's own thread. Each member's last acknowledged position is
 * kept for status and retention: {@link #retainFrom()} is the lowest LSN a member still needs.
 */
public final class LogShipper implements AutoCloseable {
    private final ShipperConfig config;
    private final Map<String, MemberPosition> members = new ConcurrentHashMap<>();
    private final Map<String, Boolean> syncing = new ConcurrentHashMap<>();
    /** Members released from holding back the log, with the position they had then, until they return. */
    private final Map<String, Long> released = new java.util.concurrent.ConcurrentHashMap<>();
    private final ExecutorService syncReader;
    /** Peers refused because their history forked from this one, with where. */
    private final Map<String, io.tern.replication.history.History.Divergence> forks = new ConcurrentHashMap<>();
    private volatile java.util.function.BiConsumer<String, io.tern.replication.history.History.Divergence> forkListener =
            (node, d) -> { };

    public LogShipper(ShipperConfig config) {
        this.config = config.conclude();
        // Two readers: one can wait for the disk while the other hashes.
        this.syncReader = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "tern-sync-read-" + config.resource());
            t.setDaemon(true);
            return t;
        });
    }

    public ShipperConfig config() {
        return config;
    }

    /** A member known from durable state (its last stored position), before it connects again. */
    public void restore(String node, long replayedLsn) {
        members.putIfAbsent(node, new MemberPosition(node, replayedLsn, replayedLsn, false));
    }

    /** Each secondary's last acknowledged position, connected or not. */
    public Map<String, MemberPosition> members() {
        return Map.copyOf(members);
    }

    /**
     * Stops keeping the log for {@code node}, a member that is not connected, so that retention
     * may delete what only it still needed. When it returns it resumes if its position is still
     * in the log, and otherwise starts a full sync (the primary answers {@code BEHIND_RETENTION}).
     *
     * @return its position when released, or -1 if it is connected or not a member
     */
    public long release(String node) {
        MemberPosition p = members.get(node);
        if (p == null || p.connected() || !members.remove(node, p)) {
            return -1;
        }
        released.put(node, p.replayedLsn());
        return p.replayedLsn();
    }

    /** The members released by {@link #release} that have not returned since, with their positions then. */
    public Map<String, Long> released() {
        return Map.copyOf(released);
    }

    /**
     * Told of each change of a peer's fork state: a {@link io.tern.replication.history.History.Divergence}
     * when it was refused for a fork, {@code null} when it was welcomed again.
     */
    public void onFork(java.util.function.BiConsumer<String, io.tern.replication.history.History.Divergence> listener) {
        this.forkListener = listener;
    }

    /** A fork known from durable state, before the peer says HELLO again. */
    public void restoreFork(String node, io.tern.replication.history.History.Divergence d) {
        forks.put(node, d);
    }

    /** A fork with {@code node} seen elsewhere (the mesh: another primary whose history forked). */
    public void reportFork(String node, io.tern.replication.history.History.Divergence d) {
        forked(node, d);
    }

    /** {@code node}'s history forked from this one's: it was refused. */
    void forked(String node, io.tern.replication.history.History.Divergence d) {
        io.tern.replication.history.History.Divergence before = forks.put(node, d);
        if (before == null || before.commonLsn() != d.commonLsn() || before.minePast() != d.minePast()
                || before.theirsPast() != d.theirsPast()) {
            forkListener.accept(node, d);
        }
    }

    /** {@code node} was welcomed: whatever fork it had is resolved. */
    void welcomed(String node) {
        if (forks.remove(node) != null) {
            forkListener.accept(node, null);
        }
    }

    /** The peers whose history forked from this one, as last seen. */
    public Map<String, io.tern.replication.history.History.Divergence> forks() {
        return Map.copyOf(forks);
    }

    /** Whether {@code node} is running a full sync right now. */
    public boolean syncing(String node) {
        return syncing.containsKey(node);
    }

    /** The lowest LSN some member still needs; {@code Long.MAX_VALUE} with no members. */
    public long retainFrom() {
        long min = Long.MAX_VALUE;
        for (MemberPosition p : members.values()) {
            min = Math.min(min, p.replayedLsn() + 1);
        }
        return min;
    }

    ExecutorService syncReader() {
        return syncReader;
    }

    /** A member starting a full sync from {@code start}: it needs the log from there. */
    void pinned(String node, long start) {
        released.remove(node);
        members.put(node, new MemberPosition(node, start - 1, start - 1, true));
        syncing.put(node, true);
    }

    void syncEnded(String node) {
        syncing.remove(node);
    }

    void connected(String node, long from) {
        released.remove(node);
        members.merge(node, new MemberPosition(node, from - 1, from - 1, true),
                (old, now) -> new MemberPosition(node, from - 1, Math.min(old.replayedLsn(), from - 1), true));
    }

    void acked(String node, long received, long replayed) {
        released.remove(node);
        members.put(node, new MemberPosition(node, received, replayed, true));
    }

    void disconnected(String node) {
        members.computeIfPresent(node, (n, p) -> new MemberPosition(n, p.receivedLsn(), p.replayedLsn(), false));
    }

    @Override
    public void close() {
        syncReader.shutdownNow();
        try {
            syncReader.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
