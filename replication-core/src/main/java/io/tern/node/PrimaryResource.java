package io.tern.node;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.tern.block.BlockDevice;
import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.links.Link;
import io.tern.links.LinkStore;
import io.tern.log.LogConfig;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.ship.MemberPosition;
import io.tern.replication.ship.ShipperConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A resource this node is primary of: the logged device, served read-write, and the shipper that
 * serves its secondaries. Each member's position is kept in the link {@code member-<node>}
 * (stored every second when it moved, and at once when a full sync starts), so the log keeps
 * what every member still needs across restarts: a segment goes only when the checkpoint and
 * every member are past it.
 */
final class PrimaryResource extends Resource {
    private static final Logger log = LoggerFactory.getLogger(PrimaryResource.class);
    private static final String MEMBER = "member-";
    /** Seconds of the log's write rate kept free beyond twice its reserve before a member is released. */
    private static final long LOW_SPACE_SECONDS = 10;

    private static final String FORK = "fork-";
    /** The dirty map of a member this primary went Ahead of: {@code dirty-<node>} in the resource's folder. */
    static final String DIRTY = "dirty-";
    private static final String VERSION = "version-";

    private final LoggedDevice device;
    private final LogShipper shipper;
    private final LinkStore links;
    private final io.tern.replication.history.LocalHistory versions;
    private final String node;
    private final java.nio.file.Path dir;
    private volatile boolean closing;
    /** Per forked peer: the fork LSN and records it was computed for, and the bytes of writes past it here. */
    private final Map<String, long[]> forkBytes = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, Long> stored = new HashMap<>();
    /** The members whose dirty map file exists (tick() deletes a map once its member caught up). */
    private final java.util.Set<String> dirtyStored = new java.util.HashSet<>();
    private final io.tern.replication.ship.LsnHistory history = new io.tern.replication.ship.LsnHistory();
    /** The log's durable bytes and the time at the last tick: its write rate, for the low-space margin. */
    private long lastTickBytes;
    private long lastTickNanos;
    private final io.tern.block.metrics.LogMeters logMeters;
    /** Where per-member meters go once the node listed this resource's meters; tick() adds new members. */
    private volatile MeterRegistry registry;
    /** The members that have meters (tick thread). */
    private final java.util.Set<String> metered = new java.util.HashSet<>();

    private PrimaryResource(ResourceConfig config, LoggedDevice device, LogShipper shipper, LinkStore links,
                            io.tern.replication.history.LocalHistory history, String node, java.nio.file.Path dir,
                            io.tern.block.metrics.LogMeters logMeters) {
        super(config);
        this.logMeters = logMeters;
        this.dir = dir;
        this.device = device;
        this.shipper = shipper;
        this.links = links;
        this.versions = history;
        this.node = node;
    }

    static PrimaryResource open(NodeHome home, ResourceConfig config, LinkStore links) throws IOException {
        var dir = home.resourceDir(config.name());
        String memberSuffix = "-" + home.node();
        // The members' positions bound retention from the first checkpoint on, before any reconnects.
        Map<String, Long> members = new HashMap<>();
        for (Link l : links.all()) {
            if (l.name().startsWith(MEMBER) && l.name().endsWith(memberSuffix) && !l.deleted()) {
                String member = l.name().substring(MEMBER.length(), l.name().length() - memberSuffix.length());
                try {
                    members.put(member, Long.parseLong(l.value()));
                } catch (NumberFormatException e) {
                    log.warn("{}: ignoring link {} = {}: not a position", config.name(), l.name(), l.value());
                }
            }
        }
        io.tern.replication.history.LocalHistory history = io.tern.replication.history.LocalHistory.open(
                dir.resolve("history"));
        LogShipper[] shipperRef = new LogShipper[1];
        FileBlockDevice backing = openBacking(config);
        io.tern.block.metrics.LogMeters logMeters = new io.tern.block.metrics.LogMeters();
        LoggedDevice device;
        try {
            device = LoggedDevice.open(new LoggedDeviceConfig()
                    .backing(backing)
                    .log(new LogConfig().directory(dir.resolve("log")).name(config.name())
                            .segmentSize(config.logSegment().bytes()).commitListener(logMeters))
                    .checkpointFile(dir.resolve("checkpoint"))
                    .checkpointInterval(home.checkpointInterval())
                    .epoch(Math.max(history.get().epoch(), config.epoch()))
                    .durability(config.durability())
                    .retainFrom(() -> {
                        LogShipper s = shipperRef[0];
                        return s != null ? s.retainFrom() : members.values().stream().mapToLong(v -> v + 1).min()
                                .orElse(Long.MAX_VALUE);
                    }));
        } catch (IOException | RuntimeException e) {
            backing.close();
            throw e;
        }
        try {
            startTermIfNeeded(home.node(), config, device, history, links);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
        LogShipper shipper = new LogShipper(new ShipperConfig()
                .resource(config.name())
                .log(device.log())
                .history(history::get)
                .device(device, device::appliedLsn, () -> device.log().lastLsn())
                .members((node, lsn) -> links.put(MEMBER + node + memberSuffix, Long.toString(lsn))));
        members.forEach(shipper::restore);
        for (Link l : links.all()) {
            String suffix = "-" + home.node();
            if (l.name().startsWith(FORK) && l.name().endsWith(suffix) && !l.deleted()) {
                String peer = l.name().substring(FORK.length(), l.name().length() - suffix.length());
                try {
                    shipper.restoreFork(peer, parseFork(l.value()));
                } catch (IllegalArgumentException e) {
                    log.warn("{}: ignoring unreadable link {}: {}", config.name(), l.name(), e.getMessage());
                }
            }
        }
        String self = home.node();
        // Logged here (on whichever thread saw it); stored by tick(), off the event loops.
        shipper.onFork((peer, d) -> {
            if (d == null) {
                log.info("{}: {} follows this node's history again; its split brain is resolved", config.name(), peer);
            } else {
                log.warn("{}: split brain with {}: the histories diverge after lsn {}; this node holds {} records "
                        + "past it, {} holds {}", config.name(), peer, d.commonLsn(), d.minePast(), peer, d.theirsPast());
            }
        });
        try (java.nio.file.DirectoryStream<java.nio.file.Path> maps = java.nio.file.Files.newDirectoryStream(dir, DIRTY + "*")) {
            for (java.nio.file.Path f : maps) {
                String peer = f.getFileName().toString().substring(DIRTY.length());
                if (peer.endsWith(".tmp")) {
                    continue;
                }
                try {
                    io.tern.replication.ship.DirtyMap map = io.tern.replication.ship.DirtyMap.load(f);
                    if (map.through() > device.log().durableLsn()) {
                        throw new IOException(f + " covers records up to lsn " + map.through() + ", past this log's end ("
                                + device.log().durableLsn() + ")");
                    }
                    shipper.restoreBehind(peer, map);
                } catch (IOException e) {
                    // Without the map this member cannot resync by chunks: it full-syncs when it returns.
                    log.error("{}: {}; {} will need a full sync", config.name(), e.getMessage(), peer);
                }
            }
        }
        shipperRef[0] = shipper;
        PrimaryResource r = new PrimaryResource(config, device, shipper, links, history, home.node(), dir,
                logMeters);
        r.stored.putAll(members);
        r.dirtyStored.addAll(shipper.behind().keySet());
        return r;
    }

    /**
     * Starts a new term with an EPOCH record when this node's history does not end in a version
     * of its own: a new resource, a node that was secondary (promoted, or a crash half-way
     * through), or a log whose recovery cut a tail (so LSNs past the cut, which a secondary may
     * hold with other data, are never reused within one version). The version is stored in the
     * history first, then appended; a head that the log never reached is dropped on the next open.
     */
    private static void startTermIfNeeded(String node, ResourceConfig config, LoggedDevice device,
                                          io.tern.replication.history.LocalHistory history, LinkStore links)
            throws IOException {
        long last = device.log().lastLsn();
        if (history.dropHeadBeyond(last)) {
            log.warn("{}: the head of this node's history was never written to the log (a crash while a term "
                    + "started); dropped it", config.name());
        }
        io.tern.replication.history.Version head = history.get().head();
        boolean cut = device.recovery().cut();
        String ahead = memberAhead(links, node, last);
        String why = head == null ? "a new history"
                : !head.node().equals(node) ? "this node takes over from " + head
                : cut ? "recovery cut the log's tail after lsn " + last
                : ahead != null ? ahead + " holds records past this log's end (lsn " + last + "): it lost records" : null;
        if (why == null) {
            log.info("{}: primary in {}", config.name(), head);
            return;
        }
        startTerm(node, config, device, history, links, last, why);
    }

    /** Appends the next version to the history, then its EPOCH record at {@code last + 1}, then its link. */
    private static io.tern.replication.history.Version startTerm(String node, ResourceConfig config, LoggedDevice device,
                                                                 io.tern.replication.history.LocalHistory history,
                                                                 LinkStore links, long last, String why) throws IOException {
        long epoch = Math.max(Math.max(history.get().epoch(), config.epoch() - 1), highestKnownEpoch(links)) + 1;
        io.tern.replication.history.Version v = io.tern.replication.history.Version.start(epoch, node, last + 1,
                history.get().headDigest());
        history.append(v);
        try {
            device.startEpoch(epoch, v.epochPayload()).get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException(config.name() + ": cannot write the EPOCH record of " + v + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(config.name() + ": interrupted writing the EPOCH record of " + v, e);
        }
        links.put(VERSION + epoch + "-" + node, v.start() + "," + v.id());
        log.warn("{}: primary starts {} ({})", config.name(), v, why);
        return v;
    }

    /**
     * A member holds more of this node's current version than its log does: records were lost
     * here (a disk that dropped acknowledged writes, or state restored from a copy). Starts a new
     * term at this log's end, with writes held back for the moment, so that the LSNs past it are
     * never reused within the version the member holds; the member is then a fork.
     */
    synchronized String startTermAfterLoss(String member, long theirLast) throws IOException, InterruptedException {
        long last = device.log().durableLsn();
        io.tern.replication.history.Version head = versions.get().head();
        if (last >= theirLast || head == null || !head.node().equals(node)) {
            return "nothing to do";
        }
        device.freeze("resource " + config.name() + " starts a new term", java.time.Duration.ofSeconds(30));
        try {
            last = device.log().durableLsn();
            io.tern.replication.history.Version v = startTerm(node, config, device, versions, links, last, member
                    + " holds records up to lsn " + theirLast + ", past this log's end (lsn " + last + "): records were "
                    + "lost here");
            return "started " + v;
        } finally {
            device.thaw();
        }
    }

    /**
     * A member whose log reaches past {@code last} by its own {@code received-} link, or by the
     * position this node stored for it, or {@code null}: if this log ends below what a member
     * holds, records were lost here, and LSNs past the end must not be reused in this version.
     */
    private static String memberAhead(LinkStore links, String node, long last) {
        for (Link l : links.all()) {
            if (l.deleted()) {
                continue;
            }
            String member = null;
            if (l.name().startsWith("received-")) {
                member = l.name().substring("received-".length());
            } else if (l.name().startsWith(MEMBER) && l.name().endsWith("-" + node)) {
                member = l.name().substring(MEMBER.length(), l.name().length() - node.length() - 1);
            }
            if (member == null || member.equals(node)) {
                continue;
            }
            try {
                if (Long.parseLong(l.value()) > last) {
                    return "member " + member + " (" + l.name() + " = " + l.value() + ")";
                }
            } catch (NumberFormatException e) {
                // not a position
            }
        }
        return null;
    }

    /** The highest epoch any version link names: a new term goes past every epoch heard of. */
    private static long highestKnownEpoch(LinkStore links) {
        long max = 0;
        for (Link l : links.all()) {
            if (l.name().startsWith(VERSION)) {
                String[] parts = l.name().split("-", 3);
                try {
                    max = Math.max(max, Long.parseLong(parts[1]));
                } catch (RuntimeException e) {
                    // not a version link of this format
                }
            }
        }
        return max;
    }

    static io.tern.replication.history.History.Divergence parseFork(String value) {
        String[] f = value.split(",");
        if (f.length != 3 && f.length != 4) {
            throw new IllegalArgumentException("fork state '" + value + "' is not lsn,mine,theirs[,bytes]");
        }
        return new io.tern.replication.history.History.Divergence(Long.parseLong(f[0]), Long.parseLong(f[1]),
                Long.parseLong(f[2]), null);
    }

    io.tern.replication.history.History history() {
        return versions.get();
    }

    @Override
    public BlockDevice exportDevice() {
        return device;
    }

    @Override
    public LogShipper shipper() {
        return shipper;
    }

    LoggedDevice device() {
        return device;
    }

    @Override
    public void registerMetrics(MeterRegistry registry) {
        Tags tags = Tags.of("resource", config.name());
        registry.gauge("tern.log.logged.lsn", tags, device, LoggedDevice::loggedLsn);
        registry.gauge("tern.log.applied.lsn", tags, device, LoggedDevice::appliedLsn);
        registry.gauge("tern.log.checkpoint.lsn", tags, device, LoggedDevice::checkpointLsn);
        registry.gauge("tern.log.first.lsn", tags, device, d -> d.log().firstLsn());
        registry.gauge("tern.resource.failed", tags, device, d -> d.failure() == null ? 0 : 1);
        registry.gauge("tern.resource.stalled", tags, device, d -> d.problem() == null ? 0 : 1);
        registry.gauge("tern.resource.epoch", tags, this, r -> r.versions.get().epoch());
        registry.gauge("tern.resource.split.brain", tags, shipper, s -> s.forks().size());
        registry.gauge("tern.log.disk.bytes", tags, this, PrimaryResource::logBytes);
        registry.gauge("tern.log.quota.bytes", tags, this, r -> r.config.logQuotaBytes());
        registry.gauge("tern.replication.behind.peers", tags, shipper, s -> s.behind().size());
        registry.gauge("tern.replication.behind.bytes", tags, shipper,
                s -> s.behind().values().stream().mapToLong(io.tern.replication.ship.DirtyMap::bytes).sum());
        logMeters.bind(registry, tags);
        synchronized (this) {
            metered.clear(); // the node dropped this resource's meters before: list every member again
            this.registry = registry;
            registerMemberMeters();
        }
    }

    /**
     * Per member, on the primary: {@code tern.replication.lag.records|bytes|seconds} (as status
     * shows them: records past its replayed LSN; bytes of the log past it; how long ago the first
     * record it has not replayed became durable) and {@code tern.replication.reconnects}. A member
     * gets them at the first tick after it is known; one released later reads its position then.
     */
    private void registerMemberMeters() {
        MeterRegistry r = registry;
        if (r == null) {
            return;
        }
        java.util.Set<String> names = new java.util.HashSet<>(shipper.members().keySet());
        names.addAll(shipper.released().keySet());
        for (String peer : names) {
            if (!metered.add(peer)) {
                continue;
            }
            Tags tags = Tags.of("resource", config.name(), "peer", peer);
            io.micrometer.core.instrument.Gauge.builder("tern.replication.lag.records", this, p -> p.lag(peer).records())
                    .tags(tags).description("records the member has not replayed").register(r);
            io.micrometer.core.instrument.Gauge.builder("tern.replication.lag.bytes", this, p -> p.lag(peer).bytes())
                    .tags(tags).description("bytes of log records the member has not replayed").register(r);
            io.micrometer.core.instrument.Gauge.builder("tern.replication.lag.seconds", this, p -> p.lag(peer).seconds())
                    .tags(tags).description("age of the oldest record the member has not replayed").register(r);
            io.micrometer.core.instrument.FunctionCounter.builder("tern.replication.reconnects", shipper,
                            s -> s.reconnects(peer))
                    .tags(tags).description("log streams the member opened again after its first").register(r);
        }
    }

    /** A member's lag now, as status computes it; zero for one that is no longer known. */
    private io.tern.replication.ship.LsnHistory.Lag lag(String peer) {
        MemberPosition p = shipper.members().get(peer);
        Long released = p == null ? shipper.released().get(peer) : null;
        if (p == null && released == null) {
            return new io.tern.replication.ship.LsnHistory.Lag(0, 0, 0);
        }
        long replayed = p != null ? p.replayedLsn() : released;
        io.tern.log.TransactionLog txlog = device.log();
        io.tern.replication.ship.LsnHistory.Lag lag = history.lag(replayed, txlog.durableLsn(), txlog.durableBytes(),
                System.nanoTime());
        return new io.tern.replication.ship.LsnHistory.Lag(Math.max(0, device.loggedLsn() - replayed), lag.bytes(),
                lag.seconds());
    }

    /** Bytes the log's segment files take (each is allocated whole). */
    private long logBytes() {
        return (long) device.log().segmentStarts().length * config.logSegment().bytes();
    }

    @Override
    public void sample() {
        history.sample(device.log().durableLsn(), device.log().durableBytes(), System.nanoTime());
    }

    /** Stores the members' positions that moved; releases a disconnected member when the log runs out of room. */
    @Override
    public synchronized void tick() {
        registerMemberMeters();
        goAheadWhenOverQuota();
        dropCaughtUpMaps();
        releaseWhenLogSpaceRunsLow();
        storeForks();
        for (MemberPosition p : shipper.members().values()) {
            Long before = stored.get(p.node());
            if (before == null || before != p.replayedLsn()) {
                try {
                    links.put(MEMBER + p.node() + "-" + node, Long.toString(p.replayedLsn()));
                    stored.put(p.node(), p.replayedLsn());
                } catch (IOException e) {
                    log.error("{}: cannot store member {}'s position: {}", config.name(), p.node(), e.toString());
                }
            }
        }
    }

    /**
     * Ahead mode. When the log's segment files pass the quota, the oldest segments below the
     * checkpoint go, down to one segment less than the quota, whoever still needs them: the
     * primary never waits for a secondary. Each member that had not replayed their records gets
     * a durable dirty map of the chunks those records wrote (stored before anything is deleted),
     * its sessions are cut, and its place moves to the cut. It shows {@code Behind}; when it
     * returns it copies those chunks only (blocks that differ move) and follows the log from the
     * cut, which the log keeps for it.
     */
    private void goAheadWhenOverQuota() {
        if (closing) {
            return;
        }
        io.tern.log.TransactionLog txlog = device.log();
        long segment = config.logSegment().bytes();
        long quota = config.logQuotaBytes();
        long[] starts = txlog.segmentStarts();
        if ((long) starts.length * segment <= quota) {
            return;
        }
        int keep = (int) Math.max(2, quota / segment - 1);
        long limit = Math.min(starts[starts.length - keep], device.checkpointLsn() + 1);
        long cut = 0;
        for (long start : starts) {
            if (start <= limit) {
                cut = start;
            }
        }
        long first = txlog.firstLsn();
        if (cut <= first) {
            device.checkpointSoon(); // the checkpoint holds the log: retention can go only as far as it
            return;
        }
        Map<String, io.tern.replication.ship.DirtyMap> maps = shipper.behind();
        Map<String, Long> from = new java.util.TreeMap<>(); // each lagging member: the first LSN its map lacks
        for (MemberPosition p : shipper.members().values()) {
            if (p.replayedLsn() + 1 >= cut) {
                continue;
            }
            io.tern.replication.ship.DirtyMap m = maps.get(p.node());
            long next = m != null ? Math.max(m.through(), p.replayedLsn()) + 1 : p.replayedLsn() + 1;
            if (next < first) {
                continue; // records it needs are gone already (a stale position): retention will not wait for it
            }
            from.put(p.node(), next);
        }
        if (from.isEmpty()) {
            device.checkpointSoon();
            return;
        }
        Map<String, java.util.BitSet> chunks = new HashMap<>();
        from.keySet().forEach(n -> chunks.put(n, new java.util.BitSet()));
        long scanFrom = from.values().stream().mapToLong(Long::longValue).min().orElseThrow();
        io.tern.log.LogRecord record = new io.tern.log.LogRecord();
        try (io.tern.log.LogReader reader = txlog.reader(scanFrom)) {
            while (reader.nextLsn() < cut && reader.next(record)) {
                if (record.op() == io.tern.log.RecordOp.EPOCH) {
                    continue;
                }
                for (Map.Entry<String, Long> e : from.entrySet()) {
                    if (record.lsn() >= e.getValue()) {
                        io.tern.replication.ship.DirtyMap.mark(chunks.get(e.getKey()), record.offset(), record.length());
                    }
                }
            }
        } catch (RuntimeException e) {
            log.error("{}: cannot read the log to go Ahead of {}: {}", config.name(), from.keySet(), e.toString());
            return;
        }
        long through = cut - 1;
        for (String member : from.keySet()) {
            io.tern.replication.ship.DirtyMap before = maps.get(member);
            io.tern.replication.ship.DirtyMap map = before != null ? before.extended(through, chunks.get(member))
                    : new io.tern.replication.ship.DirtyMap(from.get(member) - 1, through, chunks.get(member));
            try {
                map.store(dirtyFile(member));
                dirtyStored.add(member);
                links.put(MEMBER + member + "-" + node, Long.toString(through));
                stored.put(member, through);
            } catch (IOException e) {
                log.error("{}: cannot store the dirty map of {}: {}; the log keeps its records", config.name(), member,
                        e.toString());
                continue;
            }
            shipper.goAhead(member, map);
            if (before == null) {
                log.warn("{}: the log passed its quota of {} bytes: this node goes Ahead of {} (it replayed up to lsn {}); "
                        + "writes go on, and {} copies the chunks it misses ({} so far) when it returns", config.name(),
                        quota, member, map.base(), member, map.chunks().cardinality());
            }
        }
        device.checkpointSoon();
    }

    private java.nio.file.Path dirtyFile(String member) {
        return dir.resolve(DIRTY + member);
    }

    /** Deletes the dirty map of every member that follows the log again. */
    private void dropCaughtUpMaps() {
        Map<String, io.tern.replication.ship.DirtyMap> behind = shipper.behind();
        for (java.util.Iterator<String> it = dirtyStored.iterator(); it.hasNext(); ) {
            String member = it.next();
            if (!behind.containsKey(member)) {
                try {
                    java.nio.file.Files.deleteIfExists(dirtyFile(member));
                    io.tern.log.DurableFiles.syncDirectory(dirtyFile(member).getParent());
                    it.remove();
                    log.info("{}: {} follows the log again; its dirty map is dropped", config.name(), member);
                } catch (IOException e) {
                    log.error("{}: cannot delete the dirty map of {}: {}", config.name(), member, e.toString());
                }
            }
        }
    }

    /**
     * The primary never waits for a secondary, not even for room in its log. At the log's reserve
     * writes would fail with ENOSPC; so when the log's file system is down to twice the reserve
     * plus {@link #LOW_SPACE_SECONDS} of the log's current write rate (two checkpoint intervals:
     * retention frees space only at a checkpoint), the disconnected member that holds the log back
     * furthest is released and a checkpoint runs at once. Retention may then delete what only it
     * needed; it resumes or, if that is gone, full-syncs when it returns (fast mode: only the
     * blocks that differ move). Its {@code member-} link is deleted, so a restart does not pin the
     * log for it again. One member per tick, so that the checkpoint can show what the release
     * freed before the next.
     */
    private void releaseWhenLogSpaceRunsLow() {
        long now = System.nanoTime();
        long bytes = device.log().durableBytes();
        double rate = lastTickNanos == 0 ? 0 : (bytes - lastTickBytes) * 1e9 / Math.max(1, now - lastTickNanos);
        lastTickNanos = now;
        lastTickBytes = bytes;
        long reserve = device.log().config().reserve();
        long usable;
        try {
            usable = device.log().usableSpace();
        } catch (IOException e) {
            return;
        }
        if (reserve == 0 || usable >= 2 * reserve + LOW_SPACE_SECONDS * rate) {
            return;
        }
        long checkpoint = device.checkpointLsn();
        shipper.members().values().stream()
                .filter(p -> !p.connected() && p.replayedLsn() < checkpoint)
                .min(java.util.Comparator.comparingLong(MemberPosition::replayedLsn))
                .ifPresent(p -> {
                    long at = shipper.release(p.node());
                    if (at < 0) {
                        return;
                    }
                    log.warn("{}: the log's file system is down to {} bytes (reserve {}): member {}, disconnected at lsn {},"
                            + " no longer holds the log back; it resumes or full-syncs when it returns", config.name(),
                            usable, reserve, p.node(), at);
                    stored.remove(p.node());
                    device.checkpointSoon();
                    try {
                        links.delete(MEMBER + p.node() + "-" + node);
                    } catch (IOException e) {
                        log.error("{}: cannot delete member {}'s link: {}", config.name(), p.node(), e.toString());
                    }
                });
    }

    @Override
    public Map<String, Object> status() {
        long logged = device.loggedLsn();
        long durable = device.log().durableLsn();
        long durableBytes = device.log().durableBytes();
        long now = System.nanoTime();
        Map<String, Object> m = baseStatus(device.failure() == null ? "UpToDate" : "Failed", logged, device.appliedLsn());
        m.put("checkpoint_lsn", device.checkpointLsn());
        m.put("log_first_lsn", device.log().firstLsn());
        m.put("log_bytes", logBytes());
        m.put("log_quota_bytes", config.logQuotaBytes());
        Map<String, io.tern.replication.ship.DirtyMap> behind = shipper.behind();
        List<Object> peers = new ArrayList<>();
        Map<String, io.tern.replication.history.History.Divergence> forks = shipper.forks();
        putHistory(m, versions.get());
        m.put("split_brain", !forks.isEmpty());
        for (String forked : forks.keySet().stream().sorted().toList()) {
            if (!shipper.members().containsKey(forked)) {
                Map<String, Object> peer = new java.util.LinkedHashMap<>();
                peer.put("node", forked);
                peer.put("connected", false);
                peer.put("state", "SplitBrain");
                putFork(peer, forks.get(forked));
                peers.add(peer);
            }
        }
        for (MemberPosition p : shipper.members().values().stream()
                .sorted(java.util.Comparator.comparing(MemberPosition::node)).toList()) {
            Map<String, Object> peer = new java.util.LinkedHashMap<>();
            peer.put("node", p.node());
            peer.put("connected", p.connected());
            io.tern.replication.history.History.Divergence fork = forks.get(p.node());
            io.tern.replication.ship.DirtyMap dirty = behind.get(p.node());
            peer.put("state", fork != null ? "SplitBrain" : p.connected() && shipper.syncing(p.node()) ? "Syncing"
                    : dirty != null ? "Behind" : !p.connected() ? "Connecting" : "Replicating");
            if (fork != null) {
                putFork(peer, fork);
            }
            if (dirty != null) {
                // What it missed while this node ran Ahead of it: copied by chunks when it returns.
                peer.put("dirty_bytes", dirty.bytes());
                peer.put("dirty_since_lsn", dirty.base());
            }
            peer.put("received_lsn", p.receivedLsn());
            peer.put("replayed_lsn", p.replayedLsn());
            io.tern.replication.ship.LsnHistory.Lag lag = history.lag(p.replayedLsn(), durable, durableBytes, now);
            peer.put("lag_records", Math.max(0, logged - p.replayedLsn()));
            peer.put("lag_bytes", lag.bytes());
            peer.put("lag_seconds", Math.round(lag.seconds() * 10) / 10.0);
            peers.add(peer);
        }
        shipper.released().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            Map<String, Object> peer = new java.util.LinkedHashMap<>();
            peer.put("node", e.getKey());
            peer.put("connected", false);
            peer.put("state", "Behind"); // released while the log ran out of room: resumes or full-syncs on return
            peer.put("received_lsn", e.getValue());
            peer.put("replayed_lsn", e.getValue());
            peer.put("lag_records", Math.max(0, logged - e.getValue()));
            peers.add(peer);
        });
        m.put("peers", peers);
        if (device.failure() != null) {
            m.put("error", String.valueOf(device.failure().getMessage()));
        } else if (device.problem() != null) {
            m.put("problem", device.problem()); // writes refused for now; retried, recovers by itself
        }
        return m;
    }

    /**
     * Keeps a link {@code fork-<peer>-<this node>} per forked peer, {@code lsn,records here,records
     * there,bytes here} (the peer shows the bytes from it), with the bytes of writes this node's log
     * holds past the fork (-1 when the log no longer reaches back to it); deletes resolved ones.
     */
    private void storeForks() {
        Map<String, io.tern.replication.history.History.Divergence> forks = shipper.forks();
        String suffix = "-" + node;
        try {
            for (Map.Entry<String, io.tern.replication.history.History.Divergence> e : forks.entrySet()) {
                io.tern.replication.history.History.Divergence d = e.getValue();
                long[] known = forkBytes.get(e.getKey());
                if (known == null || known[0] != d.commonLsn() || known[1] != d.minePast()) {
                    known = new long[] {d.commonLsn(), d.minePast(), bytesPast(d.commonLsn())};
                    forkBytes.put(e.getKey(), known);
                }
                String value = d.commonLsn() + "," + d.minePast() + "," + d.theirsPast() + "," + known[2];
                String name = FORK + e.getKey() + suffix;
                if (!links.get(name).equals(java.util.Optional.of(value))) {
                    links.put(name, value);
                }
            }
            for (Link l : links.all()) {
                if (l.name().startsWith(FORK) && l.name().endsWith(suffix) && !l.deleted()
                        && !forks.containsKey(l.name().substring(FORK.length(), l.name().length() - suffix.length()))) {
                    links.delete(l.name());
                }
            }
            forkBytes.keySet().retainAll(forks.keySet());
        } catch (IOException | RuntimeException e) {
            log.error("{}: cannot store the fork state: {}", config.name(), e.toString());
        }
    }

    /** Bytes of writes (and zeroings) this log holds after {@code lsn}; -1 if it no longer reaches back there. */
    private long bytesPast(long lsn) {
        io.tern.log.TransactionLog l = device.log();
        if (l.firstLsn() > lsn + 1) {
            return -1;
        }
        long bytes = 0;
        try (io.tern.log.LogReader reader = l.reader(lsn + 1)) {
            io.tern.log.LogRecord rec = new io.tern.log.LogRecord();
            while (reader.next(rec)) {
                bytes += rec.op() == io.tern.log.RecordOp.EPOCH ? 0 : rec.length();
            }
        } catch (RuntimeException e) {
            return -1; // retired while read
        }
        return bytes;
    }

    private void putFork(Map<String, Object> peer, io.tern.replication.history.History.Divergence d) {
        peer.put("fork_lsn", d.commonLsn());
        peer.put("records_past_fork_here", d.minePast());
        peer.put("records_past_fork_there", d.theirsPast());
        long[] known = forkBytes.get((String) peer.get("node"));
        if (known != null && known[0] == d.commonLsn()) {
            peer.put("bytes_past_fork_here", known[2]);
        }
        // What the peer says of its own side, in its link about this node.
        links.get(FORK + node + "-" + peer.get("node")).ifPresent(v -> {
            String[] f = v.split(",");
            if (f.length == 4 && f[0].equals(Long.toString(d.commonLsn()))) {
                try {
                    peer.put("bytes_past_fork_there", Long.parseLong(f[3]));
                } catch (NumberFormatException e) {
                    // the peer's link is not a byte count: status shows what is known without it
                }
            }
        });
    }

    @Override
    public void close() {
        closing = true;
        registry = null; // the last tick() below must not list members in a registry a successor now uses
        shipper.close();
        device.close();
        tick();
    }
}
