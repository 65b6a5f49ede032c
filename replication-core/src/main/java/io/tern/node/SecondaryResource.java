package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.tern.block.BlockDevice;
import io.tern.block.ReadOnlyDevice;
import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.Checkpoint;
import io.tern.log.DurableFiles;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.replay.Replayer;
import io.tern.replication.ship.LogReceiver;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.sync.FullSync;
import io.tern.replication.sync.SyncState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A resource this node is a secondary of. Its life: a full sync copies the primary's device
 * ({@link FullSync}, resumable); then the log from the sync's start LSN is pulled into this
 * node's own log ({@link LogReceiver}) and replayed in LSN order ({@link Replayer}). NBD clients
 * get a read-only view.
 *
 * <p>The disk is {@code Inconsistent} while the copy runs and until replay passes the last LSN
 * the copy may show; also after a restart until replay passes the end of the local log (records
 * applied before a crash may be half on disk until they are applied again). Then it is
 * {@code UpToDate} while connected to the primary and {@code Outdated} (a consistent, older
 * prefix) while not.
 */
final class SecondaryResource extends Resource {
    private static final Logger log = LoggerFactory.getLogger(SecondaryResource.class);
    static final String SYNC_FILE = "sync.properties";
    static final int SYNC_CHUNK = 1 << 20;

    private final String node;
    private final String cluster;
    private final Path dir;
    private final FileBlockDevice backing;
    private final BlockDevice export;
    private volatile SyncState sync;
    /** This node's log's durable end over time: how much received log replay has yet to apply, and since when. */
    private final io.tern.replication.ship.LsnHistory receivedHistory = new io.tern.replication.ship.LsnHistory();
    private volatile FullSync fullSync;
    private volatile TransactionLog txlog;
    private volatile Replayer replayer;
    private volatile LogReceiver receiver;
    private volatile Throwable failure;
    /** Bytes the last completed copy wrote here (the blocks that differed), for status. */
    private volatile long lastCopySent = -1;
    /** Bytes the last completed copy compared (the chunks it covered), for status. */
    private volatile long lastCopyCompared = -1;
    /**
     * The LSN this node's disk was consistent at when its primary turned it away as Behind (its
     * next sync asks for the chunks changed since only), or -1.
     */
    private volatile long consistentFrom = -1;
    /** Replay must pass this LSN before the disk is consistent. */
    private volatile long consistentAt;
    private volatile boolean closed;
    /** Records and bytes replayed since this object opened, for {@code tern_replay_*_total}. */
    private final java.util.concurrent.atomic.LongAdder replayedRecords = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder replayedBytes = new java.util.concurrent.atomic.LongAdder();
    /** Sessions of receivers closed before the current one. */
    private final java.util.concurrent.atomic.AtomicLong pastSessions = new java.util.concurrent.atomic.AtomicLong();
    /** The group commits of every log this object opens, as meters (bound by {@link #registerMetrics}). */
    private final io.tern.block.metrics.LogMeters logMeters = new io.tern.block.metrics.LogMeters();
    private final io.tern.links.LinkStore links;
    private final io.tern.replication.history.LocalHistory history;
    /** Why the primary refused this node as forked (durable in {@link #SPLIT_BRAIN_FILE}), or {@code null}. */
    private volatile String splitBrain;
    static final String SPLIT_BRAIN_FILE = "split-brain";
    /** A resync of some chunks only (after a split brain): why, and which ({@link Resync}). */
    static final String RESYNC_FILE = "resync.properties";

    /** How the receiver, the full sync and a verify reach the primary. */
    private final io.tern.security.Transport transport;

    private SecondaryResource(ResourceConfig config, String node, String cluster, Path dir, FileBlockDevice backing,
                              io.tern.links.LinkStore links, io.tern.security.Transport transport) throws IOException {
        super(config);
        this.transport = transport;
        this.node = node;
        this.cluster = cluster;
        this.dir = dir;
        this.backing = backing;
        this.export = new ReadOnlyDevice(new ConsistentReads(backing), "resource '" + config.name()
                + "' is a secondary here: write to its primary");
        if (!Files.exists(dir.resolve(SYNC_FILE))) {
            log.warn("{}: {} is missing: a full sync (blocks that differ) makes this disk trustworthy again",
                    config.name(), dir.resolve(SYNC_FILE));
        }
        this.sync = SyncState.load(dir.resolve(SYNC_FILE));
        this.links = links;
        this.history = io.tern.replication.history.LocalHistory.open(dir.resolve("history"));
        Path sb = dir.resolve(SPLIT_BRAIN_FILE);
        this.splitBrain = Files.exists(sb) ? Files.readString(sb).trim() : null;
    }

    static SecondaryResource open(NodeHome home, ResourceConfig config, io.tern.links.LinkStore links,
                                  io.tern.security.Transport transport) throws IOException {
        if (config.peer() == null && SyncState.load(home.resourceDir(config.name()).resolve(SYNC_FILE)).phase()
                == SyncState.Phase.COPYING) {
            throw new IllegalStateException("secondary resource '" + config.name() + "' has no primary address to sync from");
        }
        dropDirtyMaps(home.resourceDir(config.name()));
        FileBlockDevice backing = openBacking(config);
        try {
            SecondaryResource r = new SecondaryResource(config, home.node(), home.cluster(),
                    home.resourceDir(config.name()), backing, links, transport);
            r.start();
            return r;
        } catch (IOException | RuntimeException e) {
            backing.close();
            throw e;
        }
    }

    /**
     * Dirty maps belong to a term as primary: the records they stand for lie on that term's
     * history, which a later term of this node may not share. A node that is a secondary keeps none.
     */
    private static void dropDirtyMaps(Path dir) throws IOException {
        boolean dropped = false;
        try (java.nio.file.DirectoryStream<Path> maps = Files.newDirectoryStream(dir, PrimaryResource.DIRTY + "*")) {
            for (Path f : maps) {
                Files.delete(f);
                dropped = true;
            }
        }
        if (dropped) {
            DurableFiles.syncDirectory(dir);
        }
    }

    private void start() throws IOException {
        if (sync.phase() == SyncState.Phase.COPYING && paused(Pausable.SYNC)) {
            log.info("{}: the full sync is paused at {} bytes (tern resume sync {})", config.name(), sync.next(),
                    config.name());
        } else if (sync.phase() == SyncState.Phase.COPYING) {
            FullSync s = new FullSync(cluster, config.name(), node, config.peer().toAddress(), backing,
                    dir.resolve(SYNC_FILE), SYNC_CHUNK, config.pull().syncRate()).compress(config.pull().compress())
                    .digest(config.pull().syncDigest()).transport(transport);
            Resync resync = Resync.load(dir.resolve(RESYNC_FILE));
            if (resync != null && sync.start() != 0) {
                s.chunks(resync.chunks()); // only what either side touched past the fork; the log does the rest
            }
            long from = consistentFrom;
            if (from >= 0) {
                s.changedSince(from, history.get().upTo(from));
            }
            s.onStart(chunks -> {
                Path file = dir.resolve(RESYNC_FILE);
                if (chunks == null) {
                    Files.deleteIfExists(file);
                    DurableFiles.syncDirectory(dir);
                } else {
                    new Resync("the primary went Ahead of this node: only the chunks written since lsn " + from
                            + " are copied", chunks).store(file);
                }
            });
            fullSync = s;
            s.start().whenCompleteAsync((state, error) -> {
                if (fullSync != s) {
                    return; // paused or stopped: a sync started later takes over
                }
                if (error != null) {
                    if (!closed) {
                        failure = error;
                    }
                    return;
                }
                try {
                    copied(state);
                } catch (IOException | RuntimeException e) {
                    log.error("{}: cannot start replication after the full sync: {}", config.name(), e.toString(), e);
                    failure = e;
                }
            });
        } else {
            follow();
        }
    }

    /**
     * The copy is complete and synced: a fresh log from the sync's start LSN, replay from there.
     * Each step is idempotent, and the phase is stored last, so a crash in between redoes them.
     */
    private synchronized void copied(SyncState state) throws IOException {
        if (closed) {
            return;
        }
        deleteTree(dir.resolve("log"));
        history.replace(fullSync.primaryHistory().upTo(state.start() - 1));
        new Checkpoint(config.epoch(), state.start() - 1).store(dir.resolve("checkpoint"));
        // No record can show in the copy past its start: the disk is consistent right away.
        SyncState next = state.end() < state.start() ? state.done() : state.replaying();
        next.store(dir.resolve(SYNC_FILE));
        sync = next;
        Files.deleteIfExists(dir.resolve(RESYNC_FILE));
        if (next.phase() == SyncState.Phase.DONE) {
            log.info("{}: full sync complete, the disk is consistent from lsn {}", config.name(), state.start() - 1);
        }
        lastCopySent = fullSync.bytesSent();
        lastCopyCompared = fullSync.bytesSent() + fullSync.bytesSame();
        fullSync.close();
        fullSync = null;
        follow();
    }

    private synchronized void follow() throws IOException {
        if (closed) {
            return;
        }
        TransactionLog l = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name(config.name())
                .segmentSize(config.logSegment().bytes()).replica(true).firstLsn(Math.max(1, sync.start()))
                .commitListener(logMeters));
        txlog = l;
        if (history.dropHeadBeyond(l.lastLsn())) {
            log.warn("{}: dropped the head of this node's history, which its log never reached", config.name());
        }
        consistentAt = Math.max(sync.phase() == SyncState.Phase.DONE ? 0 : sync.end(), l.durableLsn());
        Replayer rp = new Replayer(config.name(), l, backing, dir.resolve("checkpoint"), config.epoch(),
                Duration.ofSeconds(1)).trimLogAtCheckpoint(true).listener((lsn, bytes) -> {
                    replayedRecords.increment();
                    replayedBytes.add(bytes);
                });
        if (paused(Pausable.REPLAY)) {
            try {
                rp.pause(Duration.ZERO); // before it starts: not one record is applied
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            log.info("{}: replay is paused (tern resume replay {})", config.name(), config.name());
        }
        replayer = rp.start();
        if (config.peer() == null) {
            log.info("{}: no primary to follow yet (a primary that stepped down); follows whoever becomes primary",
                    config.name());
            return;
        }
        if (paused(Pausable.FETCH)) {
            log.info("{}: fetching the log is paused (tern resume fetch {})", config.name(), config.name());
            return;
        }
        startReceiver(l, rp);
    }

    private void startReceiver(TransactionLog l, Replayer rp) {
        if (config.peer() == null || rp == null) {
            return;
        }
        receiver = new LogReceiver(cluster, config.name(), node, l, config.peer().toAddress(), rp::replayedLsn)
                .compress(config.pull().compress()).rateLimit(config.pull().fetchRate()).history(history)
                .transport(transport).start();
        log.info("{}: following {} from lsn {}; consistent once replay passes lsn {}", config.name(), config.peer(),
                l.durableLsn() + 1, consistentAt);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        DurableFiles.syncDirectory(root.getParent());
    }

    /**
     * Reads only while the disk is consistent: an Inconsistent disk (a sync copying, or replay
     * short of where the copy ended) holds a mix of old and new blocks that no prefix of the
     * primary's history ever held, so its reads fail with EIO and a message that says why.
     */
    private final class ConsistentReads extends io.tern.block.ForwardingBlockDevice {
        ConsistentReads(BlockDevice inner) {
            super(inner);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> read(long offset, java.nio.ByteBuffer dst) {
            if ("Inconsistent".equals(disk())) {
                return java.util.concurrent.CompletableFuture.failedFuture(new io.tern.block.BlockDeviceException(
                        io.tern.block.BlockError.EIO, "resource '" + config.name() + "' is Inconsistent on this node "
                        + "(a sync is running or replay has not passed its end): read it from the primary, or wait "
                        + "until tern status shows it UpToDate"));
            }
            return super.read(offset, dst);
        }
    }

    @Override
    public BlockDevice exportDevice() {
        return export;
    }

    @Override
    public LogShipper shipper() {
        return null;
    }

    @Override
    public void registerMetrics(MeterRegistry registry) {
        Tags tags = Tags.of("resource", config.name());
        registry.gauge("tern.log.logged.lsn", tags, this, r -> r.txlog == null ? 0 : r.txlog.durableLsn());
        registry.gauge("tern.log.applied.lsn", tags, this, r -> r.replayer == null ? 0 : r.replayer.replayedLsn());
        registry.gauge("tern.sync.copied.bytes", tags, this, r -> r.fullSync != null ? r.fullSync.state().next() : r.sync.next());
        registry.gauge("tern.resource.failed", tags, this, r -> r.failure() == null ? 0 : 1);
        registry.gauge("tern.resource.epoch", tags, this, r -> r.history.get().epoch());
        registry.gauge("tern.resource.split.brain", tags, this, r -> r.splitBrain == null ? 0 : 1);
        registry.gauge("tern.log.disk.bytes", tags, this, r -> {
            TransactionLog l = r.txlog;
            return l == null ? 0 : (double) l.segmentStarts().length * r.config.logSegment().bytes();
        });
        registry.gauge("tern.sync.total.bytes", tags, this, r -> r.config.size());
        registry.gauge("tern.sync.active", tags, this, r -> r.sync.phase() == SyncState.Phase.COPYING ? 1 : 0);
        registry.gauge("tern.replay.lag.records", tags, this, SecondaryResource::replayLag);
        registry.gauge("tern.replay.paused", tags, this, r -> r.replayer != null && r.replayer.paused() ? 1 : 0);
        io.micrometer.core.instrument.FunctionCounter.builder("tern.replay.records", replayedRecords,
                java.util.concurrent.atomic.LongAdder::sum).tags(tags).description("records replayed").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("tern.replay.bytes", replayedBytes,
                java.util.concurrent.atomic.LongAdder::sum).tags(tags).description("bytes written or zeroed by replay")
                .register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("tern.replication.reconnects", this,
                SecondaryResource::reconnects).tags(tags.and("peer", "primary"))
                .description("sessions with the primary after the first").register(registry);
        logMeters.bind(registry, tags);
    }

    /** Records the primary holds (as last heard) that this node has not replayed: status's {@code lag_records}. */
    private long replayLag() {
        Replayer rp = replayer;
        LogReceiver rc = receiver;
        long primaryLsn = rc == null ? 0 : rc.primaryLsn();
        return Math.max(0, primaryLsn - (rp == null ? 0 : rp.replayedLsn()));
    }

    private Throwable failure() {
        Throwable f = failure;
        Replayer rp = replayer;
        if (f == null && rp != null) {
            f = rp.failure();
        }
        LogReceiver rc = receiver;
        if (f == null && rc != null && rc.refusal() != null && rc.refusal().code() != ErrorCode.SPLIT_BRAIN
                && rc.refusal().code() != ErrorCode.BEHIND_RETENTION) { // that one starts a resync at the next tick
            f = new IllegalStateException("the primary refused this node: " + rc.refusal().reason());
        }
        return f;
    }

    /**
     * Marks the sync done once the replay of everything the copy may show is durable; starts a
     * new full sync if the primary no longer holds the records this node needs next.
     */
    @Override
    public void tick() {
        publishLinks();
        LogReceiver rc = receiver;
        noteSplitBrain(rc);
        if (rc != null && rc.refusal() != null && rc.refusal().code() == ErrorCode.BEHIND_RETENTION) {
            resync(rc.refusal().reason());
            return;
        }
        Replayer rp = replayer;
        if (sync.phase() == SyncState.Phase.REPLAYING && rp != null && rp.checkpointLsn() >= sync.end()) {
            synchronized (this) {
                try {
                    SyncState d = sync.done();
                    d.store(dir.resolve(SYNC_FILE));
                    sync = d;
                    log.info("{}: full sync complete, the disk is consistent from lsn {}", config.name(), rp.checkpointLsn());
                } catch (IOException e) {
                    log.error("{}: cannot store the sync state: {}", config.name(), e.toString());
                }
            }
        }
    }

    /**
     * Keeps a split-brain refusal durable, so that status shows it after a restart too, and
     * clears it once the primary welcomes this node again.
     */
    private void noteSplitBrain(LogReceiver rc) {
        if (rc == null) {
            return;
        }
        Path file = dir.resolve(SPLIT_BRAIN_FILE);
        try {
            if (rc.refusal() != null && rc.refusal().code() == ErrorCode.SPLIT_BRAIN) {
                String reason = rc.refusal().reason();
                if (!reason.equals(splitBrain)) {
                    DurableFiles.writeAtomically(file, java.nio.ByteBuffer.wrap(
                            (reason + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                    if (splitBrain == null) { // once per episode: the counts in the reason move while the primary writes
                        log.error("{}: split brain with the primary at {}: {}", config.name(), config.peer(), reason);
                    }
                    splitBrain = reason;
                }
            } else if (rc.connected() && splitBrain != null) {
                Files.deleteIfExists(file);
                DurableFiles.syncDirectory(dir);
                splitBrain = null;
                log.info("{}: the primary at {} welcomes this node again; the split brain is resolved", config.name(),
                        config.peer());
            }
        } catch (IOException e) {
            log.error("{}: cannot store the split-brain state: {}", config.name(), e.toString());
        }
    }

    /** This node's log while it follows a primary, else {@code null} (a full sync runs). */
    TransactionLog log() {
        return txlog;
    }

    /** The end of this node's log: what it has received. */
    long receivedLsn() {
        TransactionLog l = txlog;
        return l == null ? Math.max(0, sync.start() - 1) : l.durableLsn();
    }

    /** This node's history of the resource. */
    io.tern.replication.history.History history() {
        return history.get();
    }

    /** The disk state shown in status: UpToDate, Outdated, Inconsistent or Failed. */
    String disk() {
        Replayer rp = replayer;
        LogReceiver rc = receiver;
        FullSync fs = fullSync;
        long replayed = rp == null ? 0 : rp.replayedLsn();
        boolean connected = rc != null ? rc.connected() : fs != null && fs.connected();
        return failure() != null ? "Failed"
                : sync.phase() == SyncState.Phase.COPYING || rp == null || replayed < consistentAt ? "Inconsistent"
                : connected ? "UpToDate" : "Outdated";
    }

    @Override
    public void sample() {
        TransactionLog l = txlog;
        if (l != null) {
            receivedHistory.sample(l.durableLsn(), l.durableBytes(), System.nanoTime());
        }
    }

    /** Whether a full sync or resync is still copying: the disk holds no image of the primary yet. */
    boolean copying() {
        return sync.phase() == SyncState.Phase.COPYING;
    }

    /**
     * Waits until the log holds {@code until} (0: whatever it holds now), stops pulling, and waits
     * until everything received is replayed: what a promotion starts from. Returns the last LSN
     * replayed.
     *
     * @throws IllegalStateException if replay does not catch up within {@code timeout} or failed
     */
    synchronized long drain(long until, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        TransactionLog received = txlog;
        if (received == null && until > 0) {
            throw new IllegalStateException("this node has no log yet to receive the primary's up to lsn " + until);
        }
        while (received != null && received.durableLsn() < until) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("received lsn " + received.durableLsn() + " of " + until + " within "
                        + timeout.toSeconds() + " s");
            }
            Thread.sleep(10);
        }
        dropReceiver();
        FullSync fs = fullSync;
        if (fs != null) {
            fs.close();
            fullSync = null;
        }
        Replayer rp = replayer;
        TransactionLog l = txlog;
        if (rp == null || l == null) {
            return 0;
        }
        rp.resume();
        long end = l.durableLsn();
        while (rp.replayedLsn() < end) {
            if (rp.failure() != null) {
                throw new IllegalStateException("replay failed: " + rp.failure().getMessage(), rp.failure());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("replay reached lsn " + rp.replayedLsn() + " of " + end + " within "
                        + timeout.toSeconds() + " s");
            }
            Thread.sleep(10);
        }
        return end;
    }

    /** This node's own links for the resource, written when they change and sent to the primary. */
    private void publishLinks() {
        Replayer rp = replayer;
        TransactionLog l = txlog;
        try {
            putIfChanged("sync-" + node, sync.phase().name().toLowerCase(java.util.Locale.ROOT));
            if (rp != null) {
                putIfChanged("replay-" + node, config.epoch() + "," + rp.checkpointLsn());
            }
            if (l != null) {
                putIfChanged("received-" + node, Long.toString(l.durableLsn()));
            }
        } catch (IOException | RuntimeException e) {
            log.error("{}: cannot store this node's links: {}", config.name(), e.toString());
        }
    }

    private void putIfChanged(String name, String value) throws IOException {
        if (!links.get(name).equals(java.util.Optional.of(value))) {
            links.put(name, value);
        }
    }

    /**
     * Drops the log and starts a full sync again (fast mode: only differing chunks move). The
     * disk is Inconsistent until it completes, as after a join.
     */
    private synchronized void resync(String why) {
        if (closed) {
            return;
        }
        Replayer rp = replayer;
        boolean consistent = sync.phase() == SyncState.Phase.DONE && rp != null && rp.failure() == null
                && rp.replayedLsn() >= consistentAt;
        log.warn("{}: {}; starting a {}", config.name(), why, consistent ? "resync of what changed" : "full sync");
        stopFollowing();
        consistentFrom = consistent && rp != null ? rp.checkpointLsn() : -1;
        try {
            SyncState.NEW.store(dir.resolve(SYNC_FILE));
            sync = SyncState.NEW;
            consistentAt = Long.MAX_VALUE;
            start();
        } catch (IOException | RuntimeException e) {
            log.error("{}: cannot restart the full sync: {}", config.name(), e.toString(), e);
            failure = e;
        }
    }

    /** Stops pulling the log; its sessions count on in {@link #reconnects()}. */
    private void dropReceiver() {
        LogReceiver rc = receiver;
        receiver = null;
        if (rc != null) {
            rc.close();
            pastSessions.addAndGet(rc.sessions());
        }
    }

    /** Sessions with the primary after the first since this object opened (a resumed fetch is a new receiver). */
    private long reconnects() {
        LogReceiver rc = receiver;
        return Math.max(0, pastSessions.get() + (rc == null ? 0 : rc.sessions()) - 1);
    }

    private void stopFollowing() {
        dropReceiver();
        Replayer rp = replayer;
        replayer = null;
        if (rp != null) {
            rp.resume();
            rp.close();
        }
        TransactionLog l = txlog;
        txlog = null;
        if (l != null) {
            l.close();
        }
    }

    /** The link that keeps a pause switch of this node: {@code paused-<what>-<node>}, "paused" or "running". */
    private String switchLink(Pausable what) {
        return "paused-" + what.name().toLowerCase(java.util.Locale.ROOT) + "-" + node;
    }

    private boolean paused(Pausable what) {
        return links.get(switchLink(what)).map("paused"::equals).orElse(false);
    }

    /**
     * Pauses or resumes pulling the log (the receiver's session closes; the primary keeps the log
     * for this node up to its quota), replay (at a record boundary: the disk stays the primary's
     * image at replayed_lsn) or a running full sync (its progress is stored; it resumes from
     * there). The switch is stored first, in this node's own link, so a restart keeps it.
     */
    @Override
    public synchronized void pause(Pausable what, boolean pause) throws IOException {
        if (closed) {
            throw new IllegalStateException(config.name() + " is closing");
        }
        links.put(switchLink(what), pause ? "paused" : "running");
        String verb = pause ? "paused" : "resumed";
        switch (what) {
            case REPLAY -> {
                Replayer rp = replayer;
                if (rp != null && pause) {
                    try {
                        if (!rp.pause(Duration.ofSeconds(10))) {
                            throw new IllegalStateException(config.name() + ": replay did not stop within 10 s");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(config.name() + ": interrupted while pausing replay");
                    }
                } else if (rp != null) {
                    rp.resume();
                }
            }
            case FETCH -> {
                if (pause) {
                    dropReceiver();
                } else if (receiver == null && txlog != null) {
                    startReceiver(txlog, replayer);
                }
            }
            case SYNC -> {
                if (pause) {
                    FullSync fs = fullSync;
                    fullSync = null;
                    if (fs != null) {
                        fs.close();
                    }
                } else if (fullSync == null && sync.phase() == SyncState.Phase.COPYING) {
                    start();
                }
            }
        }
        log.info("{}: {} {} (tern {} {})", config.name(), what.name().toLowerCase(java.util.Locale.ROOT), verb,
                pause ? "pause" : "resume", what.name().toLowerCase(java.util.Locale.ROOT));
    }

    private final java.util.concurrent.atomic.AtomicBoolean verifying = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Online verify: replay pauses (the disk holds the primary's image at replayed_lsn) while the
     * log keeps arriving and the primary keeps writing; the disks are compared by block digests
     * ({@link io.tern.replication.sync.OnlineVerify}); replay resumes after, unless it was paused
     * before. The report lists the ranges that differ and, with {@code repair}, what was rewritten.
     */
    @Override
    public Map<String, Object> verify(boolean repair) throws InterruptedException {
        if (!"UpToDate".equals(disk())) {
            throw new IllegalStateException(config.name() + " is " + disk() + " on node " + node
                    + ": only an UpToDate secondary (consistent, connected to its primary) can be verified");
        }
        if (!verifying.compareAndSet(false, true)) {
            throw new IllegalStateException(config.name() + ": a verify runs already");
        }
        Replayer rp = replayer;
        boolean wasPaused = rp.paused();
        try {
            if (!wasPaused && !rp.pause(Duration.ofSeconds(10))) {
                throw new IllegalStateException(config.name() + ": replay did not pause within 10 s");
            }
            long pinned = rp.replayedLsn();
            log.info("{}: verify{} against the primary at {} from lsn {}", config.name(), repair ? " --repair" : "",
                    config.peer(), pinned);
            var future = io.tern.replication.sync.OnlineVerify.start(cluster, config.name(), node,
                    config.peer().toAddress(), backing, pinned, repair, config.pull().syncDigest(), transport);
            io.tern.replication.sync.OnlineVerify.Result r;
            try {
                r = future.get(1, java.util.concurrent.TimeUnit.HOURS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(config.name() + ": verify failed: " + e.getCause().getMessage(), e.getCause());
            } catch (java.util.concurrent.TimeoutException e) {
                future.cancel(false);
                throw new IllegalStateException(config.name() + ": verify did not finish within an hour");
            } finally {
                future.cancel(false);
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("resource", config.name());
            m.put("lsn", r.pinnedLsn());
            m.put("compared_bytes", r.comparedBytes());
            m.put("differing_bytes", r.differingBytes());
            List<Object> ranges = new ArrayList<>();
            for (long[] range : r.ranges()) {
                ranges.add(Map.of("offset", range[0], "length", range[1]));
            }
            m.put("differing_ranges", ranges);
            m.put("repaired_bytes", r.repairedBytes());
            m.put("seconds", Math.round(r.nanos() / 1e7) / 100.0);
            if (r.differingBytes() > 0) {
                log.warn("{}: verify found {} bytes in {} ranges that differ from the primary at lsn {}{}", config.name(),
                        r.differingBytes(), r.ranges().size(), r.pinnedLsn(), repair ? "; repaired" : "; tern verify "
                                + config.name() + " --repair rewrites them");
            }
            return m;
        } finally {
            if (!wasPaused) {
                rp.resume();
            }
            verifying.set(false);
        }
    }

    @Override
    public Map<String, Object> status() {
        Replayer rp = replayer;
        LogReceiver rc = receiver;
        FullSync fs = fullSync;
        long replayed = rp == null ? 0 : rp.replayedLsn();
        long logged = txlog == null ? 0 : txlog.durableLsn();
        boolean connected = rc != null ? rc.connected() : fs != null && fs.connected();
        Throwable f = failure();
        String disk = disk();
        Map<String, Object> m = baseStatus(disk, logged, replayed);
        putHistory(m, history.get());
        String sb = splitBrain;
        m.put("split_brain", sb != null);
        m.put("checkpoint_lsn", rp == null ? 0 : rp.checkpointLsn());
        m.put("replay_paused", rp != null && rp.paused());
        m.put("fetch_paused", paused(Pausable.FETCH));
        m.put("sync_paused", paused(Pausable.SYNC) && sync.phase() == SyncState.Phase.COPYING);
        SyncState progress = fs != null ? fs.state() : sync;
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("phase", progress.phase().name().toLowerCase(java.util.Locale.ROOT));
        s.put("start_lsn", progress.start());
        s.put("end_lsn", progress.end());
        s.put("copied_bytes", progress.next());
        s.put("digest", config.pull().syncDigest().label());
        try {
            Resync resync = progress.phase() == SyncState.Phase.COPYING ? Resync.load(dir.resolve(RESYNC_FILE)) : null;
            if (resync != null && progress.start() != 0) {
                s.put("reason", resync.reason());
                s.put("resync_chunks", resync.chunks().cardinality());
                s.put("resync_chunk_bytes", SYNC_CHUNK);
            }
        } catch (IOException | RuntimeException e) {
            s.put("reason", "cannot read " + RESYNC_FILE + ": " + e.getMessage());
        }
        if (fs == null && lastCopySent >= 0) {
            s.put("sent_bytes", lastCopySent);
            s.put("compared_bytes", lastCopyCompared);
        }
        if (fs != null) {
            double rate = fs.rate();
            s.put("sent_bytes", fs.bytesSent());
            s.put("same_bytes", fs.bytesSame());
            s.put("rate_bytes_per_second", (long) rate);
            s.put("eta_seconds", rate > 0 ? (long) ((config.size() - progress.next()) / rate) : -1);
        }
        m.put("sync", s);
        List<Object> peers = new ArrayList<>();
        Map<String, Object> peer = new LinkedHashMap<>();
        peer.put("node", "primary");
        peer.put("address", config.peer() == null ? "(none)" : config.peer().toString());
        peer.put("connected", connected);
        boolean copying = sync.phase() == SyncState.Phase.COPYING;
        peer.put("state", sb != null ? "SplitBrain" : copying && paused(Pausable.SYNC) ? "Paused" : copying ? "Syncing"
                : paused(Pausable.FETCH) ? "Paused" : connected ? "Replicating" : "Connecting");
        if (sb != null) {
            peer.put("split_brain", sb);
        }
        long primaryLsn = rc == null ? 0 : rc.primaryLsn();
        peer.put("primary_lsn", primaryLsn);
        peer.put("received_lsn", logged);
        peer.put("replayed_lsn", replayed);
        peer.put("lag_records", Math.max(0, primaryLsn - replayed));
        io.tern.replication.ship.LsnHistory.Lag backlog = txlog == null ? new io.tern.replication.ship.LsnHistory.Lag(0, 0, 0)
                : receivedHistory.lag(replayed, logged, txlog.durableBytes(), System.nanoTime());
        peer.put("lag_bytes", backlog.bytes()); // received here and not replayed yet
        peer.put("lag_seconds", Math.round(backlog.seconds() * 10) / 10.0);
        if (config.pull().compress() && rc != null) {
            peer.put("compressed_bytes", rc.compressedBytes());
            peer.put("decompressed_bytes", rc.decompressedBytes());
        }
        if (rc != null && rc.problem() != null) {
            peer.put("error", rc.problem()); // e.g. this node's log is out of space: retried with backoff
        }
        if (fs != null && fs.problem() != null) {
            peer.put("error", fs.problem()); // retried with backoff from the stored progress
        }
        if (rp != null && rp.problem() != null) {
            m.put("problem", rp.problem()); // e.g. the disk is full: replay retries with backoff
        }
        peers.add(peer);
        m.put("peers", peers);
        if (f != null) {
            m.put("error", String.valueOf(f.getMessage()));
        }
        return m;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        FullSync fs = fullSync;
        if (fs != null) {
            fs.close();
        }
        stopFollowing();
        backing.close();
    }
}
