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
    /** Each member's open sessions (log stream or full sync): it is connected while it has one. */
    private final Map<String, java.util.Set<io.netty.channel.Channel>> sessions = new ConcurrentHashMap<>();
    private final Map<String, Boolean> syncing = new ConcurrentHashMap<>();
    /** Per member: log stream sessions opened since start, less one (its first): how often it came back. */
    private final Map<String, java.util.concurrent.atomic.AtomicLong> reconnects = new ConcurrentHashMap<>();
    /** Members this primary went Ahead of, with what they missed; until one follows the log past it. */
    private final Map<String, DirtyMap> behind = new ConcurrentHashMap<>();
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
            Thread t = new Thread(io.tern.log.Mdc.resource(config.resource(), r), "tern-sync-read-" + config.resource());
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

    /** Each secondary's last acknowledged position, connected (it has a session open) or not. */
    public Map<String, MemberPosition> members() {
        Map<String, MemberPosition> copy = new java.util.HashMap<>();
        members.forEach((node, p) -> copy.put(node, new MemberPosition(node, p.receivedLsn(), p.replayedLsn(),
                !sessions.getOrDefault(node, java.util.Set.of()).isEmpty())));
        return Map.copyOf(copy);
    }

    /** Whether {@code node} has a session open now. */
    public boolean connected(String node) {
        return !sessions.getOrDefault(node, java.util.Set.of()).isEmpty();
    }

    /**
     * Goes Ahead of {@code node}: it no longer holds the log back beyond {@code map.through()};
     * what it misses up to there is in {@code map} (stored by the caller before this). Its
     * sessions are closed: the records they would read next are about to go. When it returns it
     * is refused the log below {@code map.through() + 1} and resyncs the map's chunks.
     */
    public void goAhead(String node, DirtyMap map) {
        behind.put(node, map);
        released.remove(node);
        members.put(node, new MemberPosition(node, map.through(), map.through(), false));
        for (io.netty.channel.Channel c : sessions.getOrDefault(node, java.util.Set.of())) {
            c.close();
        }
    }

    /** A dirty map known from durable state, before the member returns. */
    public void restoreBehind(String node, DirtyMap map) {
        behind.put(node, map);
        members.merge(node, new MemberPosition(node, map.through(), map.through(), false),
                (old, now) -> old.replayedLsn() >= map.through() ? old : now);
    }

    /** The members this primary is Ahead of, with what each missed. */
    public Map<String, DirtyMap> behind() {
        return Map.copyOf(behind);
    }

    /** {@code node}'s dirty map, or {@code null} if this primary is not Ahead of it. */
    DirtyMap dirty(String node) {
        return behind.get(node);
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
        if (p == null || connected(node) || !members.remove(node, p)) {
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

    /**
     * A session of {@code node} opened (welcomed): it is connected until its last session closes.
     * A log stream ({@code stream}) after its first since start counts as a reconnect.
     */
    void opened(String node, io.netty.channel.Channel channel, boolean stream) {
        sessions.computeIfAbsent(node, n -> ConcurrentHashMap.newKeySet()).add(channel);
        if (stream) {
            reconnects.computeIfAbsent(node, n -> new java.util.concurrent.atomic.AtomicLong(-1)).incrementAndGet();
        }
    }

    /**
     * How often {@code node} opened a log stream again since this shipper started: every stream
     * after its first (a lost connection, a restart of the member, a resumed fetch). Full-sync
     * sessions do not count.
     */
    public long reconnects(String node) {
        java.util.concurrent.atomic.AtomicLong n = reconnects.get(node);
        return n == null ? 0 : Math.max(0, n.get());
    }

    /** A session of {@code node} closed: a full sync it ran ends with it. */
    void closed(String node, io.netty.channel.Channel channel, boolean wasSyncing) {
        sessions.computeIfPresent(node, (n, set) -> {
            set.remove(channel);
            return set.isEmpty() ? null : set;
        });
        if (wasSyncing) {
            syncing.remove(node);
        }
    }

    /** A member starting a full sync from {@code start}: it needs the log from there. */
    void pinned(String node, long start) {
        released.remove(node);
        members.put(node, new MemberPosition(node, start - 1, start - 1, false));
        syncing.put(node, true);
    }

    /** A member follows the log from {@code from}: if this primary was Ahead of it, it has caught up. */
    void connected(String node, long from) {
        released.remove(node);
        DirtyMap map = behind.get(node);
        if (map != null && from - 1 >= map.through()) {
            behind.remove(node, map);
        }
        members.merge(node, new MemberPosition(node, from - 1, from - 1, false),
                (old, now) -> new MemberPosition(node, from - 1, Math.min(old.replayedLsn(), from - 1), false));
    }

    void acked(String node, long received, long replayed) {
        released.remove(node);
        if (behind.containsKey(node)) {
            return; // a late ACK of a session being closed: the member's place is the map's end now
        }
        members.put(node, new MemberPosition(node, received, replayed, false));
    }

    @Override
    public void close() {
        // Not shutdownNow: an interrupt inside a read of the device's shared file channel would close it.
        syncReader.shutdown();
        try {
            syncReader.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
