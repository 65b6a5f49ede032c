package io.tern.replication.sync;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.tern.block.BlockDevice;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.protocol.PeerConnector;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A secondary's full sync (join): copies the primary's device into the local one chunk by chunk
 * while the primary keeps taking writes (a fuzzy copy, made consistent by replaying the log from
 * the start LSN the primary agreed to keep). Fast mode: for every chunk the secondary sends the
 * digest ({@link BlockDigest}, XXH3-128 unless asked otherwise) of each 4 KiB block it holds
 * there, and the primary sends only the blocks whose own digest differs.
 *
 * <p>Progress is stored ({@link SyncState}) after the device is synced, at least every second,
 * so a killed sync resumes from its last stored chunk, not from zero. Disconnects are retried
 * with backoff and resume from the next chunk in memory. If the primary no longer holds the log
 * from the start LSN, the copy starts over with a new one (fast mode makes that cheap).
 *
 * <p>With a rate limit, chunks are asked for no faster than it allows (checked before each ask,
 * with a burst of one chunk), whether they turn out equal or not: reading and digesting costs
 * the primary's disk either way.
 *
 * <p>Thread contract: everything runs on the sync's own event loop thread; the progress getters
 * may be read from any thread.
 */
public final class FullSync implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FullSync.class);
    /** Chunk requests kept in flight. */
    private static final int WINDOW = 8;
    /** The unit compared inside a chunk: one digest each; only differing blocks are sent. */
    static final int BLOCK = 4096;
    private static final long STORE_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final String clusterId;
    private final String resource;
    private final String node;
    private final InetSocketAddress primary;
    private final BlockDevice device;
    private final Path stateFile;
    private final int chunk;
    private final long rate;
    private final PeerConnector connector;
    private final CompletableFuture<SyncState> done = new CompletableFuture<>();
    private final long startedNanos = System.nanoTime();
    private volatile SyncState state;
    private volatile boolean stopped;
    private volatile Channel channel;
    private volatile long bytesSent;
    private volatile long bytesSame;
    private volatile boolean connected;
    /** Why the copy cannot go on for now (this node's disk refuses writes), or {@code null}. */
    private volatile String problem;
    private volatile io.tern.replication.history.History primaryHistory = io.tern.replication.history.History.empty();
    private final long resumedAt;
    private volatile boolean compress;
    private volatile BlockDigest digest = BlockDigest.XXH128;
    /** The chunks to copy (by index), or {@code null} for all: a resync after a split brain. */
    private volatile java.util.BitSet only;
    /** The LSN this node's disk is consistent at, if it may ask for the chunks it missed only; else -1. */
    private volatile long consistentAt = -1;
    /** This node's history, sent with a request for the changed chunks only: the primary checks it did not fork. */
    private volatile io.tern.replication.history.History history = io.tern.replication.history.History.empty();
    /** Told of the chunks to copy when the primary names them, before the sync's start is stored. */
    private volatile IoConsumer<java.util.BitSet> onChunks = chunks -> { };

    /** A step that may fail with an I/O error. */
    @FunctionalInterface
    public interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }

    public FullSync(String clusterId, String resource, String node, InetSocketAddress primary, BlockDevice device,
                    Path stateFile, int chunk, long bytesPerSecond) throws IOException {
        if (chunk <= 0 || chunk > Messages.MAX_CHUNK || chunk % 512 != 0) {
            throw new IllegalArgumentException("chunk size " + chunk + " must be a multiple of 512 up to " + Messages.MAX_CHUNK);
        }
        this.clusterId = clusterId;
        this.resource = resource;
        this.node = node;
        this.primary = primary;
        this.device = device;
        this.stateFile = stateFile;
        this.chunk = chunk;
        this.rate = bytesPerSecond;
        this.state = SyncState.load(stateFile);
        this.resumedAt = state.next();
        this.connector = new PeerConnector(resource + ": full sync", primary, c -> {
            c.pipeline().addLast(new FrameDecoder());
            io.tern.replication.protocol.Keepalive.install(c.pipeline());
            c.pipeline().addLast(new Session());
        }, () -> stopped || done.isDone());
    }

    /** Asks the primary to compress the chunks it sends (zstd, per frame). Before {@link #start()}. */
    /** Reaches the primary over {@code t} (plain TCP unless said). */
    public FullSync transport(io.tern.security.Transport t) {
        connector.transport(t, null);
        return this;
    }

    public FullSync compress(boolean compress) {
        this.compress = compress;
        return this;
    }

    /**
     * Copies only these chunks (index = offset / chunk size), skipping the rest: a resync of the
     * extents touched past a fork. Before {@link #start()}.
     */
    public FullSync chunks(java.util.BitSet chunks) {
        this.only = (java.util.BitSet) chunks.clone();
        return this;
    }

    /**
     * This node's disk is consistent at {@code lsn} (it followed the log until the primary went
     * Ahead of it): a new sync asks for only the chunks changed since, which the primary names
     * if it kept them; otherwise the whole device is compared. Before {@link #start()}.
     */
    public FullSync changedSince(long lsn, io.tern.replication.history.History history) {
        this.consistentAt = lsn;
        this.history = history;
        return this;
    }

    /**
     * Told, when a new sync's start is agreed, which chunks it copies ({@code null}: all). It
     * must store them durably: it runs before the start is stored, so that a resumed sync copies
     * the same chunks. Before {@link #start()}.
     */
    public FullSync onStart(IoConsumer<java.util.BitSet> onChunks) {
        this.onChunks = java.util.Objects.requireNonNull(onChunks);
        return this;
    }

    /** The start of the first chunk to copy at or after {@code offset}; the device's size if none. */
    private long nextChunk(long offset) {
        long size = device.size();
        java.util.BitSet set = only;
        if (set == null || offset >= size) {
            return Math.min(offset, size);
        }
        int index = (int) ((offset + chunk - 1) / chunk);
        int next = set.nextSetBit(index);
        return next < 0 ? size : Math.min(size, (long) next * chunk);
    }

    /** A dirty map's chunks ({@link Messages#DIRTY_CHUNK} bytes each) as this sync's chunks. */
    private java.util.BitSet toChunks(java.util.BitSet dirty) {
        java.util.BitSet mine = new java.util.BitSet();
        long size = device.size();
        for (int i = dirty.nextSetBit(0); i >= 0 && (long) i * Messages.DIRTY_CHUNK < size; i = dirty.nextSetBit(i + 1)) {
            long from = (long) i * Messages.DIRTY_CHUNK;
            long to = Math.min(size, from + Messages.DIRTY_CHUNK);
            mine.set((int) (from / chunk), (int) ((to - 1) / chunk) + 1);
        }
        return mine;
    }

    /** The digest blocks are compared by. Before {@link #start()}. */
    public FullSync digest(BlockDigest digest) {
        this.digest = java.util.Objects.requireNonNull(digest);
        return this;
    }

    /**
     * Starts (or resumes) the copy. The future completes with the stored state once every chunk
     * is copied and synced (still {@code COPYING}, with {@code next == size}); it fails if the
     * primary refuses this node for good or the local device fails.
     */
    public CompletableFuture<SyncState> start() {
        if (state.phase() != SyncState.Phase.COPYING) {
            done.complete(state);
        } else if (state.start() != 0 && state.next() >= device.size()) {
            done.complete(state); // copied and stored before a crash: only the next phase is left
        } else {
            connector.execute(this::connect);
        }
        return done;
    }

    /**
     * The primary's history as its last WELCOME told it: the copy holds its records up to the
     * sync's start, so the versions that start by then are this node's history after the copy.
     */
    public io.tern.replication.history.History primaryHistory() {
        return primaryHistory;
    }

    public SyncState state() {
        return state;
    }

    /** Why the copy is held up for now (retried with backoff), or {@code null}. */
    public String problem() {
        return problem;
    }

    /** Whether a sync session is open with the primary. */
    public boolean connected() {
        return connected;
    }

    /** Bytes the primary sent because the chunk differed, and bytes found equal, since this start. */
    public long bytesSent() {
        return bytesSent;
    }

    public long bytesSame() {
        return bytesSame;
    }

    /** Bytes copied per second since this start (from the resumed position). */
    public double rate() {
        double secs = (System.nanoTime() - startedNanos) / 1e9;
        return secs <= 0 ? 0 : (state.next() - resumedAt) / secs;
    }

    private void connect() {
        connector.connect();
    }

    private void fail(Throwable t) {
        log.error("{}: full sync stopped: {}", resource, t.getMessage());
        done.completeExceptionally(t);
        Channel c = channel;
        if (c != null) {
            c.close();
        }
    }

    /** One connection: a window of chunk requests, answered in order. */
    private final class Session extends ChannelInboundHandlerAdapter {
        private boolean welcomed;
        /** Offset of the next chunk to ask about, and of the next answer expected. */
        private long asked;
        private long expected;
        /** Chunk requests sent and not answered yet. */
        private int outstanding;
        private long lastStore = System.nanoTime();
        private final long sessionStart = System.nanoTime();
        private long askedThisSession;
        private boolean throttled;
        private Prefetcher prefetcher;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            SyncState s = state;
            boolean changed = s.start() == 0 && consistentAt >= 0;
            Messages.Hello hello = new Messages.Hello(clusterId, resource, node, changed ? history.forWire() : List.of(),
                    changed ? consistentAt + 1 : s.start(), Messages.Mode.SYNC,
                    (compress ? Messages.Hello.COMPRESS : 0) | (changed ? Messages.Hello.DIRTY : 0));
            FrameCodec.send(ctx, MessageType.HELLO, b -> Messages.encode(hello, b));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(resource, null)) {
                onRead(ctx, msg);
            }
        }

        private void onRead(ChannelHandlerContext ctx, Object msg) {
            Frame f = (Frame) msg;
            try {
                switch (f.type()) {
                    case WELCOME -> welcome(ctx, Messages.decodeWelcome(f.payload()));
                    case REJECT -> rejected(ctx, Messages.decodeReject(f.payload()));
                    case SYNC_DATA -> {
                        if (!welcomed) {
                            throw new ProtocolException(ErrorCode.PROTOCOL, "SYNC_DATA before WELCOME");
                        }
                        chunk(ctx, Messages.decodeSyncData(f.payload()));
                    }
                    case PING -> Messages.decodePing(f.payload());
                    default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " in a full sync");
                }
            } catch (IOException | RuntimeException e) {
                if (e instanceof ProtocolException) {
                    throw (ProtocolException) e;
                }
                if (refusedHere(e)) {
                    // This node's disk refused the chunk or the progress (full, or failing for now): the copy
                    // resumes from its stored progress on the next connection, after the connector's backoff.
                    String why = "this node's disk refused the copy (" + e + ")";
                    if (!why.equals(problem)) {
                        log.warn("{}: {}; the sync retries from its stored progress", resource, why);
                    }
                    problem = why;
                    connector.welcomed(false);
                    ctx.close();
                    return;
                }
                fail(e);
            } finally {
                f.release();
            }
        }

        private void welcome(ChannelHandlerContext ctx, Messages.Welcome w) throws IOException {
            if (w.size() != device.size()) {
                fail(new IllegalStateException("the primary's device holds " + w.size() + " bytes, this one "
                        + device.size()));
                return;
            }
            if (state.start() == 0) {
                if (w.startLsn() == 0) {
                    throw new ProtocolException(ErrorCode.PROTOCOL, "WELCOME to a new sync without a start lsn");
                }
                java.util.BitSet dirty = w.dirty();
                java.util.BitSet mine = dirty == null ? null : toChunks(dirty);
                onChunks.accept(mine);
                only = mine; // a sync started over copies what the new start needs, not what an earlier one did
                if (dirty != null) {
                    log.info("{}: resync of the {} chunks changed while the primary {} was Ahead of this node; the log "
                            + "follows from lsn {}", resource, dirty.cardinality(), primary, w.startLsn());
                } else {
                    log.info("{}: full sync of {} bytes from {} starts; the log follows from lsn {}; block digest {}",
                            resource, device.size(), primary, w.startLsn(), digest.label());
                }
                state = state.withStart(w.startLsn());
                state.store(stateFile);
            }
            primaryHistory = io.tern.replication.history.History.of(w.history());
            welcomed = true;
            connected = true;
            connector.welcomed();
            asked = nextChunk(state.next());
            expected = asked;
            outstanding = 0;
            if (expected >= device.size()) {
                SyncState copied = state.copied(device.size(), 0);
                copied.store(stateFile);
                state = copied;
                log.info("{}: nothing to copy; replay from lsn {} follows", resource, state.start());
                done.complete(copied);
                ctx.close();
                return;
            }
            prefetcher = new Prefetcher(ctx, asked);
            prefetcher.start();
        }

        private void rejected(ChannelHandlerContext ctx, Messages.Reject r) throws IOException {
            if (r.code() == ErrorCode.BEHIND_RETENTION && state.start() != 0) {
                log.warn("{}: the primary no longer holds the log from lsn {}; the copy starts over", resource, state.start());
                state = SyncState.NEW;
                state.store(stateFile);
                ctx.close();
            } else if (r.code() == ErrorCode.NOT_PRIMARY || r.code() == ErrorCode.PROTOCOL) {
                log.warn("{}: full sync refused for now: {}", resource, r.reason());
                ctx.close();
            } else {
                fail(new IllegalStateException("the primary refused the full sync: " + r.reason() + " (" + r.code() + ")"));
            }
        }

        private void askMore(ChannelHandlerContext ctx) {
            if (!ctx.channel().isActive() || done.isDone()) {
                return;
            }
            long size = device.size();
            while (asked < size && outstanding < WINDOW) {
                if (rate > 0) {
                    double allowed = rate * ((System.nanoTime() - sessionStart) / 1e9) + chunk;
                    if (askedThisSession >= allowed) {
                        if (!throttled) {
                            throttled = true;
                            long waitNanos = (long) ((askedThisSession - allowed) * 1e9 / rate) + 1_000_000;
                            ctx.executor().schedule(() -> {
                                throttled = false;
                                askMore(ctx);
                            }, waitNanos, TimeUnit.NANOSECONDS);
                        }
                        return;
                    }
                }
                Messages.SyncDigest d = prefetcher.poll();
                if (d == null) {
                    return; // the prefetcher calls again when the next chunk's digests are ready
                }
                if (d.offset() != asked) {
                    throw new IllegalStateException("prefetched chunk " + d.offset() + ", expected " + asked);
                }
                int length = d.length();
                FrameCodec.send(ctx, MessageType.SYNC_DIGESTS, b -> Messages.encode(d, b));
                asked = nextChunk(asked + length);
                outstanding++;
                askedThisSession += length;
            }
        }

        private void chunk(ChannelHandlerContext ctx, Messages.SyncData d) throws IOException {
            if (d.offset() != expected || d.length() != (int) Math.min(chunk, device.size() - expected)
                    || d.block() != BLOCK) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "SYNC_DATA for " + d.offset() + "+" + d.length()
                        + " in blocks of " + d.block() + ", expected the chunk at " + expected);
            }
            long sent = 0;
            for (int i = d.differs().nextSetBit(0); i >= 0; i = d.differs().nextSetBit(i + 1)) {
                int length = Messages.blockLength(d.length(), BLOCK, i);
                device.write(d.offset() + (long) i * BLOCK, d.data().readSlice(length).nioBuffer(), false).join();
                sent += length;
            }
            bytesSent += sent;
            bytesSame += d.length() - sent;
            problem = null;
            outstanding--;
            expected = nextChunk(expected + d.length());
            SyncState copied = state.copied(expected, d.lsn());
            boolean finished = expected >= device.size();
            if (finished || System.nanoTime() - lastStore > STORE_EVERY_NANOS) {
                device.flush().join();
                copied.store(stateFile);
                lastStore = System.nanoTime();
            }
            state = copied;
            if (finished) {
                log.info("{}: full sync copied {} bytes ({} sent, {} equal); replay must pass lsn {}", resource,
                        device.size(), bytesSent, bytesSame, copied.end());
                done.complete(copied);
                ctx.close();
            } else {
                askMore(ctx);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (prefetcher != null) {
                prefetcher.stopped = true;
            }
            channel = null;
            connected = false;
            ctx.fireChannelInactive(); // the connector reconnects
        }
    }

    /**
     * Reads this node's chunks ahead of the requests and computes their block digests on its
     * own thread, so disk reads and hashing overlap with the network and with the primary's
     * work. Never interrupted: an interrupt would close the device's file channel.
     */
    private final class Prefetcher extends Thread {
        private final java.util.concurrent.ArrayBlockingQueue<Messages.SyncDigest> ready =
                new java.util.concurrent.ArrayBlockingQueue<>(WINDOW * 2);
        private final ChannelHandlerContext ctx;
        private final long from;
        volatile boolean stopped;

        Prefetcher(ChannelHandlerContext ctx, long from) {
            super("tern-sync-digest-" + resource);
            setDaemon(true);
            this.ctx = ctx;
            this.from = from;
        }

        Messages.SyncDigest poll() {
            return ready.poll();
        }

        @Override
        public void run() {
            long size = device.size();
            BlockDigest algorithm = digest;
            ByteBuffer mine = ByteBuffer.allocateDirect(chunk); // reused: only the digests leave this thread
            try {
                for (long offset = from; offset < size && !stopped; offset = nextChunk(offset)) {
                    int length = (int) Math.min(chunk, size - offset);
                    mine.clear().limit(length);
                    device.read(offset, mine).join();
                    mine.flip();
                    Messages.SyncDigest d = Messages.SyncDigest.of(offset, mine, BLOCK, algorithm);
                    while (!stopped && !ready.offer(d, 100, TimeUnit.MILLISECONDS)) {
                        // the window is full: wait for answers
                    }
                    ctx.executor().execute(() -> session(ctx).ifPresent(s -> s.askMore(ctx)));
                    offset += length;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                if (!stopped) {
                    fail(e);
                }
            }
        }
    }

    /** Whether {@code e} is this node's storage refusing a write for now (ENOSPC, EIO, a failed store of the progress). */
    private static boolean refusedHere(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof io.tern.block.BlockDeviceException b) {
                return b.error() == io.tern.block.BlockError.ENOSPC || b.error() == io.tern.block.BlockError.EIO;
            }
            if (c instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    private static java.util.Optional<Session> session(ChannelHandlerContext ctx) {
        return java.util.Optional.ofNullable(ctx.pipeline().get(Session.class));
    }

    @Override
    public void close() {
        stopped = true;
        Channel c = channel;
        if (c != null) {
            c.close().syncUninterruptibly();
        }
        connector.close();
        done.cancel(false);
    }
}
