package io.tern.replication.ship;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.tern.log.LogCorruptedException;
import io.tern.log.LogReader;
import io.netty.channel.DefaultFileRegion;
import io.tern.log.LogRecord;
import io.tern.log.TransactionLog;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import io.tern.replication.protocol.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's side of one peer connection, a small state machine: AWAIT_HELLO (check cluster,
 * resource and the request, answer WELCOME or REJECT), then by the HELLO's mode either SHIPPING
 * (read the log from where the secondary asked and send RECORDS frames while the channel is
 * writable; take its ACKs) or SYNCING (answer each chunk digest with SYNC_DATA: "same", or the
 * chunk). Only durable records are shipped (the log's readers see nothing else).
 *
 * <p>Thread contract: everything runs on the connection's event loop, which owns the log reader,
 * except chunk reads, which run on the shipper's sync threads and hand their answers back in order.
 */
final class ShippingHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ShippingHandler.class);
    /** How often an idle session looks for new durable records if the log's wake-up did not come. */
    private static final long IDLE_POLL_MICROS = 100_000;
    /** Chunk requests one sync session may have outstanding; more is a protocol violation. */
    static final int MAX_SYNC_OUTSTANDING = 16;
    /** Each sync reader thread's chunk buffer ({@link #chunkBuffer}). */
    private static final ThreadLocal<ByteBuffer> CHUNK_BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(0));

    private enum State { AWAIT_HELLO, SHIPPING, SYNCING, CLOSED }

    private final ReplicationServer server;
    private final LogRecord record = new LogRecord();
    private State state = State.AWAIT_HELLO;
    private LogShipper shipper;
    private LogReader reader;
    private String peer = "?";
    private boolean pumpScheduled;
    /** An online verify session's view of the log since the peer's pinned LSN, else {@code null}. */
    private volatile Verifier verify;
    /** This session counts as one of the peer's open sessions ({@link LogShipper#opened}). */
    private boolean opened;
    private int syncOutstanding;
    /** The peer asked for compressed frames (HELLO flag). */
    private boolean compress;
    /** Whether a wake-up from the log is armed (set here, cleared on the log's thread). */
    private final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    private long shippedLsn;
    /** The last chunk answer of this sync session, sent or failed (event loop only). */
    private java.util.concurrent.CompletableFuture<Void> syncSent = java.util.concurrent.CompletableFuture.completedFuture(null);
    private io.netty.util.concurrent.ScheduledFuture<?> fallback;

    ShippingHandler(ReplicationServer server) {
        this.server = server;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(shipper == null ? null : shipper.config().resource(), "?".equals(peer) ? null : peer)) {
            onRead(ctx, msg);
        }
    }

    private void onRead(ChannelHandlerContext ctx, Object msg) {
        Frame f = (Frame) msg;
        try {
            switch (state) {
                case AWAIT_HELLO -> {
                    if (f.type() != MessageType.HELLO) {
                        throw new ProtocolException(ErrorCode.PROTOCOL, "expected HELLO, got " + f.type());
                    }
                    // A well-formed HELLO lifts the bound a stranger's frames had (ReplicationServer).
                    FrameDecoder decoder = ctx.pipeline().get(FrameDecoder.class);
                    if (decoder != null) {
                        decoder.limit(FrameCodec.MAX_PAYLOAD);
                    }
                    hello(ctx, Messages.decodeHello(f.payload()));
                }
                case SHIPPING -> {
                    switch (f.type()) {
                        case ACK -> {
                            Messages.Ack a = Messages.decodeAck(f.payload());
                            long durable = shipper.config().log().durableLsn();
                            if (a.receivedLsn() > durable || a.replayedLsn() > durable) {
                                // Only durable records are shipped: a peer cannot hold more. Believing it would
                                // let the log drop records the peer never had.
                                throw new ProtocolException(ErrorCode.PROTOCOL, "ACK of lsn " + a.receivedLsn() + "/"
                                        + a.replayedLsn() + " past this log's durable end " + durable);
                            }
                            shipper.acked(peer, a.receivedLsn(), a.replayedLsn());
                        }
                        case PING -> Messages.decodePing(f.payload());
                        default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " while shipping");
                    }
                }
                case SYNCING -> {
                    switch (f.type()) {
                        case SYNC_DIGESTS -> syncChunk(ctx, Messages.decodeSyncDigest(f.payload()));
                        case PING -> Messages.decodePing(f.payload());
                        default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " while syncing");
                    }
                }
                default -> {
                    // closed: drop
                }
            }
        } finally {
            f.release();
        }
    }

    private void hello(ChannelHandlerContext ctx, Messages.Hello h) {
        peer = h.node();
        compress = (h.flags() & Messages.Hello.COMPRESS) != 0;
        if (!h.clusterId().equals(server.clusterId())) {
            reject(ctx, ErrorCode.WRONG_CLUSTER, "cluster '" + h.clusterId() + "' is not this node's cluster '"
                    + server.clusterId() + "'");
            return;
        }
        if (io.tern.security.Transport.isTls(ctx.channel())) {
            // The certificate is the peer's identity: a member may not speak for another one.
            String certified = io.tern.security.Transport.peerName(ctx.channel());
            if (!h.node().equals(certified)) {
                reject(ctx, ErrorCode.IDENTITY, "this connection's certificate names node " + certified
                        + ", its HELLO node " + h.node());
                return;
            }
        }
        if (h.mode() == Messages.Mode.LINKS) {
            mesh(ctx, h);
            return;
        }
        try {
            shipper = server.directory().shipper(h.resource());
        } catch (ProtocolException e) {
            reject(ctx, e.code(), e.getMessage());
            return;
        }
        if (shipper == null) {
            reject(ctx, ErrorCode.UNKNOWN_RESOURCE, "no resource '" + h.resource() + "' here");
            return;
        }
        ShipperConfig config = shipper.config();
        TransactionLog txlog = config.log();
        long start = 0;
        java.util.BitSet dirty = null;
        DirtyMap map = shipper.dirty(peer);
        boolean fresh = h.mode() == Messages.Mode.SYNC && (h.fromLsn() == 0 || (h.flags() & Messages.Hello.DIRTY) != 0);
        switch (h.mode()) {
            case PROBE, LINKS -> {
                // nothing to check beyond cluster and resource
            }
            case VERIFY -> {
                long at = h.fromLsn() - 1;
                if (config.device() == null || at < txlog.firstLsn() - 1 || at > txlog.durableLsn()) {
                    reject(ctx, ErrorCode.BEHIND_RETENTION, "cannot verify against lsn " + at + ": this log holds "
                            + txlog.firstLsn() + ".." + txlog.durableLsn());
                    return;
                }
                verify = new Verifier(txlog, at);
                start = h.fromLsn();
            }
            case STREAM, SYNC -> {
                if (h.mode() == Messages.Mode.SYNC && config.device() == null) {
                    reject(ctx, ErrorCode.PROTOCOL, "this node cannot serve a full sync of '" + h.resource() + "'");
                    return;
                }
                if (fresh) {
                    if ((h.flags() & Messages.Hello.DIRTY) != 0 && map != null && h.fromLsn() - 1 >= map.base()
                            && map.through() + 1 >= txlog.firstLsn() && map.through() <= txlog.durableLsn()
                            && !forkedAt(h, txlog)) {
                        // Its disk holds everything up to the map's base: the map's chunks, then the log after it.
                        start = map.through() + 1;
                        dirty = map.chunks();
                    } else {
                        // Everything up to the applied LSN is in the device before any chunk is read.
                        start = config.appliedLsn() + 1;
                    }
                    try {
                        config.members().pin(peer, start - 1);
                    } catch (java.io.IOException | RuntimeException e) {
                        log.error("{}: cannot record {}'s sync start: {}", config.resource(), peer, e.toString());
                        ctx.close();
                        return;
                    }
                    shipper.pinned(peer, start);
                } else if (h.mode() == Messages.Mode.STREAM && forked(ctx, h, txlog)) {
                    return;
                } else if (h.mode() == Messages.Mode.STREAM && map != null && h.fromLsn() - 1 < map.through()) {
                    reject(ctx, ErrorCode.BEHIND_RETENTION, "this primary went Ahead of " + peer + " (its log ran past "
                            + "its quota): the records after lsn " + map.base() + " up to " + map.through() + " are gone; "
                            + "resync the " + map.chunks().cardinality() + " chunks they wrote, then the log follows");
                    return;
                } else if (h.fromLsn() < txlog.firstLsn()) {
                    reject(ctx, ErrorCode.BEHIND_RETENTION, "lsn " + h.fromLsn() + " is no longer in the log (it starts at "
                            + txlog.firstLsn() + "): a full sync is needed");
                    return;
                } else if (h.fromLsn() > txlog.durableLsn() + 1) {
                    reject(ctx, ErrorCode.SPLIT_BRAIN, "the peer asks from lsn " + h.fromLsn() + " but this log ends at "
                            + txlog.durableLsn());
                    return;
                } else if (h.mode() == Messages.Mode.SYNC) {
                    start = h.fromLsn();
                    shipper.pinned(peer, start);
                }
            }
        }
        io.tern.replication.history.History history = config.history();
        Messages.Welcome welcome = new Messages.Welcome(history.epoch(), txlog.firstLsn(), txlog.durableLsn(),
                config.device() != null ? config.device().size() : 0, start, history.forWire(), dirty);
        if (h.mode() != Messages.Mode.PROBE && h.mode() != Messages.Mode.VERIFY) {
            shipper.welcomed(peer);
            shipper.opened(peer, ctx.channel(), h.mode() == Messages.Mode.STREAM);
            opened = true;
        }
        ChannelFuture sent = FrameCodec.send(ctx, MessageType.WELCOME, b -> Messages.encode(welcome, b));
        switch (h.mode()) {
            case PROBE -> {
                state = State.CLOSED;
                sent.addListener(ChannelFutureListener.CLOSE);
            }
            case VERIFY -> {
                state = State.SYNCING;
                log.info("{}: online verify of {} against lsn {}", config.resource(), peer, start - 1);
            }
            case LINKS -> throw new IllegalStateException("a mesh session is handed over before this");
            case SYNC -> {
                state = State.SYNCING;
                if (dirty != null) {
                    log.info("{}: resync of the {} chunks {} missed while this node was Ahead of it; the log follows "
                            + "from lsn {}", config.resource(), dirty.cardinality(), peer, start);
                } else {
                    log.info("{}: full sync to {} from lsn {}", config.resource(), peer, start);
                }
            }
            case STREAM -> {
                reader = txlog.reader(h.fromLsn());
                shippedLsn = h.fromLsn() - 1;
                state = State.SHIPPING;
                shipper.connected(peer, h.fromLsn());
                log.info("{}: shipping to {} from lsn {}", config.resource(), peer, h.fromLsn());
                pump(ctx);
            }
        }
    }

    /**
     * Refuses a peer whose log up to {@code fromLsn - 1} does not lie on this node's history
     * (log matching, by versions): records are never shipped across a fork.
     */
    private boolean forked(ChannelHandlerContext ctx, Messages.Hello h, TransactionLog txlog) {
        io.tern.replication.history.History mine = shipper.config().history();
        io.tern.replication.history.History theirs;
        try {
            theirs = io.tern.replication.history.History.of(h.history());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "history does not chain: " + e.getMessage());
        }
        io.tern.replication.history.History.Divergence d = io.tern.replication.history.History.compare(mine,
                txlog.durableLsn(), theirs, h.fromLsn() - 1);
        if (!d.forked()) {
            return false;
        }
        shipper.forked(peer, d);
        reject(ctx, ErrorCode.SPLIT_BRAIN, "split brain: the histories of " + shipper.config().resource() + " diverge after lsn "
                + d.commonLsn() + "; this node (" + mine.head() + ") holds " + d.minePast() + " records past it, "
                + peer + " (" + theirs.head() + ") holds " + d.theirsPast() + "; nothing is shipped until an operator "
                + "decides (tern invalidate on the node whose changes are to be discarded)");
        return true;
    }

    /** Whether the peer's history up to {@code fromLsn - 1} left this node's (a malformed one counts as forked). */
    private boolean forkedAt(Messages.Hello h, TransactionLog txlog) {
        try {
            io.tern.replication.history.History theirs = io.tern.replication.history.History.of(h.history());
            return io.tern.replication.history.History.compare(shipper.config().history(), txlog.durableLsn(), theirs,
                    h.fromLsn() - 1).forked();
        } catch (IllegalArgumentException e) {
            return true;
        }
    }

    /** A mesh session: WELCOME, then the session's own handler takes over this connection. */
    private void mesh(ChannelHandlerContext ctx, Messages.Hello h) {
        MeshMember member = server.directory().member(h.resource());
        if (member == null) {
            reject(ctx, ErrorCode.UNKNOWN_RESOURCE, "no resource '" + h.resource() + "' here");
            return;
        }
        if (h.node().equals(member.node())) {
            reject(ctx, ErrorCode.PROTOCOL, "a mesh session with itself");
            return;
        }
        Messages.State st = member.state();
        Messages.Welcome welcome = new Messages.Welcome(io.tern.replication.history.History.of(st.history()).epoch(), 0,
                st.lastLsn(), 0, 0, st.history());
        state = State.CLOSED;
        FrameCodec.send(ctx, MessageType.WELCOME, b -> Messages.encode(welcome, b));
        MeshSession session = new MeshSession(member, h.resource(), h.node());
        ctx.pipeline().replace(this, "mesh", session);
        session.start(ctx.pipeline().context(session));
    }

    private void reject(ChannelHandlerContext ctx, ErrorCode code, String reason) {
        log.warn("refusing {}: {}", peer, reason);
        server.countReject(code);
        state = State.CLOSED;
        Messages.Reject reject = new Messages.Reject(code, reason);
        FrameCodec.send(ctx, MessageType.REJECT, b -> Messages.encode(reject, b)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Reads the chunk on the sync thread, compares digests there, and answers on the event loop. */
    private void syncChunk(ChannelHandlerContext ctx, Messages.SyncDigest d) {
        ShipperConfig config = shipper.config();
        long size = config.device().size();
        if (d.offset() % 512 != 0 || d.offset() >= size || d.length() > size - d.offset()) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "chunk " + d.offset() + "+" + d.length()
                    + " is not inside the device of " + size + " bytes");
        }
        if (verify != null && d.block() != VERIFY_BLOCK) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "a verify compares blocks of " + VERIFY_BLOCK + " bytes, not "
                    + d.block());
        }
        if (++syncOutstanding > MAX_SYNC_OUTSTANDING) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "more than " + MAX_SYNC_OUTSTANDING + " chunk requests outstanding");
        }
        ShipperConfig cfg = config;
        java.util.concurrent.CompletableFuture<Messages.SyncData> work;
        try {
            work = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                ByteBuffer chunk = chunkBuffer(d.length());
                cfg.device().read(d.offset(), chunk).join();
                long lsn = cfg.loggedLsn();
                if (lsn > cfg.log().durableLsn()) {
                    // Flush mode applies writes before they are durable: the chunk may show one. Make
                    // it durable before the secondary relies on it, or a crash here could take back a
                    // write the copy already holds.
                    cfg.log().sync().join();
                }
                Verifier v = verify;
                return differences(d, chunk.flip(), lsn, v == null ? null
                        : v.writtenThrough(lsn, d.offset() / VERIFY_BLOCK, Messages.blocks(d.length(), d.block())));
            }, shipper.syncReader());
        } catch (RejectedExecutionException e) {
            ctx.close(); // shutting down
            return;
        }
        // Chunks are read on several threads; the answers leave in the order asked. A request
        // stays outstanding until its answer is written to the socket, not merely queued: a peer
        // that asks and never reads is cut off at the bound instead of filling this node's memory.
        syncSent = syncSent.thenCompose(v -> work).handleAsync((answer, error) -> {
            if (error != null) {
                syncOutstanding--;
                if (state == State.SYNCING) {
                    log.error("{}: reading chunk {} for {} failed: {}", cfg.resource(), d.offset(), peer, error.toString());
                    ctx.close();
                }
            } else if (state == State.SYNCING) {
                FrameCodec.send(ctx, MessageType.SYNC_DATA, compress, b -> Messages.encode(answer, b))
                        .addListener(f -> syncOutstanding--);
            } else {
                syncOutstanding--;
            }
            return null;
        }, ctx.executor());
    }

    /** Compares the chunk block by block with the secondary's digests; keeps the blocks that differ. */
    private static Messages.SyncData differences(Messages.SyncDigest d, ByteBuffer chunk, long lsn,
                                                 java.util.BitSet written) {
        int n = Messages.blocks(d.length(), d.block());
        BlockDigest algorithm = d.algorithm();
        int len = algorithm.length();
        java.util.BitSet differs = new java.util.BitSet(n);
        ByteBuf data = null;
        byte[] theirs = d.digests();
        byte[] mine = new byte[len];
        for (int i = 0; i < n; i++) {
            ByteBuffer piece = chunk.slice(i * d.block(), Messages.blockLength(d.length(), d.block(), i));
            algorithm.digest(piece, mine, 0);
            if (!java.util.Arrays.equals(mine, 0, len, theirs, i * len, (i + 1) * len)
                    && (written == null || !written.get(i))) {
                differs.set(i);
                if (data == null) {
                    data = Unpooled.buffer(d.length());
                }
                data.writeBytes(piece);
            }
        }
        return new Messages.SyncData(d.offset(), d.length(), d.block(), lsn, differs, data);
    }

    /**
     * What an online verify must not count as a difference: the blocks written by records after
     * the LSN the peer's disk is pinned at, up to what the chunk read here may show. It follows
     * this node's log forward as the reads move on (a block that ever changed after the pin is
     * skipped, even if read before that change: a difference there proves nothing).
     */
    private static final class Verifier {
        private final TransactionLog txlog;
        private final java.util.BitSet written = new java.util.BitSet();
        private final LogRecord record = new LogRecord();
        private long scanned;

        Verifier(TransactionLog txlog, long pinned) {
            this.txlog = txlog;
            this.scanned = pinned;
        }

        /**
         * Which of the {@code count} blocks ({@link #VERIFY_BLOCK} bytes) from block {@code first}
         * were written after the pin, up to {@code lsn}: bit i for block {@code first + i}.
         */
        synchronized java.util.BitSet writtenThrough(long lsn, long first, int count) {
            if (lsn > scanned) {
                long upTo = Math.min(lsn, txlog.durableLsn());
                try (LogReader reader = txlog.reader(scanned + 1)) {
                    while (reader.nextLsn() <= upTo && reader.next(record)) {
                        if (record.op() != io.tern.log.RecordOp.EPOCH && record.length() > 0) {
                            int from = (int) (record.offset() / VERIFY_BLOCK);
                            int last = (int) ((record.offset() + record.length() - 1) / VERIFY_BLOCK);
                            written.set(from, last + 1);
                        }
                        scanned = record.lsn();
                    }
                }
            }
            return written.get((int) first, (int) first + count);
        }
    }

    /** The block size an online verify compares by (the full sync's). */
    static final int VERIFY_BLOCK = 4096;

    /**
     * A sync reader thread's chunk buffer, reused from chunk to chunk (direct: the file read
     * lands in it without the copy a heap buffer costs). Only the differing blocks are copied out.
     */
    private static ByteBuffer chunkBuffer(int length) {
        ByteBuffer b = CHUNK_BUFFER.get();
        if (b.capacity() < length) {
            b = ByteBuffer.allocateDirect(Math.max(length, Messages.MAX_CHUNK));
            CHUNK_BUFFER.set(b);
        }
        return b.clear().limit(length);
    }

    /** Sends batches while the channel takes them; looks again shortly when the log has nothing new. */
    private void pump(ChannelHandlerContext ctx) {
        pumpScheduled = false;
        if (state != State.SHIPPING) {
            return;
        }
        try {
            // sendfile only where the bytes go out as they are on disk: TLS must encrypt them first.
            boolean sendfile = shipper.config().sendfile() && !io.tern.security.Transport.isTls(ctx.channel());
            while (ctx.channel().isWritable()) {
                if (!compress && sendfile) {
                    // Straight from the segment file to the socket (sendfile): no copy in this process.
                    LogReader.Run run = reader.nextRun(shipper.config().maxBatchBytes());
                    if (run != null) {
                        ctx.write(FrameCodec.streamHeader(ctx.alloc(), run.length()));
                        ctx.writeAndFlush(new DefaultFileRegion(run.file().toFile(), run.position(), run.length()));
                        if (run.endsAtLsn() >= 0) {
                            shippedLsn = run.endsAtLsn();
                        }
                        continue;
                    }
                    shippedLsn = Math.max(shippedLsn, reader.runsCaughtUpTo());
                }
                ByteBuf batch = compress || !sendfile ? nextBatch(ctx) : null;
                if (batch == null) {
                    if (armed.compareAndSet(false, true)) {
                        shipper.config().log().whenDurableAfter(shippedLsn, () -> {
                            armed.set(false);
                            ctx.executor().execute(() -> pump(ctx));
                        });
                    }
                    if (fallback == null || fallback.isDone()) {
                        fallback = ctx.executor().schedule(() -> pump(ctx), IDLE_POLL_MICROS, TimeUnit.MICROSECONDS);
                    }
                    return;
                }
                ByteBuf frame = compress ? FrameCodec.encodeCompressed(ctx.alloc(), MessageType.RECORDS, batch)
                        : FrameCodec.encode(ctx.alloc(), MessageType.RECORDS, batch);
                batch.release();
                ctx.writeAndFlush(frame);
            }
        } catch (LogCorruptedException e) {
            log.error("{}: cannot ship to {}: {}", shipper.config().resource(), peer, e.getMessage());
            ctx.close();
        }
    }

    /** The next RECORDS payload of up to maxBatchBytes, or null if no durable record is waiting. */
    private ByteBuf nextBatch(ChannelHandlerContext ctx) {
        int max = shipper.config().maxBatchBytes();
        ByteBuf batch = null;
        int count = 0;
        while (count < RecordBatch.MAX_RECORDS && (batch == null || batch.readableBytes() < max) && reader.next(record)) {
            if (batch == null) {
                batch = ctx.alloc().buffer(max + 64).writeInt(0);
            }
            ByteBuffer encoded = record.encoded();
            batch.writeInt(encoded.remaining()).writeBytes(encoded);
            shippedLsn = record.lsn();
            count++;
        }
        if (batch != null) {
            batch.setInt(0, count);
        }
        return batch;
    }

    private void schedulePump(ChannelHandlerContext ctx, long micros) {
        if (!pumpScheduled) {
            pumpScheduled = true;
            ctx.executor().schedule(() -> pump(ctx), micros, TimeUnit.MICROSECONDS);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            schedulePump(ctx, 0);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (opened) {
            shipper.closed(peer, ctx.channel(), state == State.SYNCING);
            opened = false;
        }
        state = State.CLOSED;
        if (reader != null) {
            reader.close();
            reader = null;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof ProtocolException) {
            server.protocolError();
            log.warn("protocol error from {}: {}", peer, c.getMessage());
        } else {
            log.warn("connection to {} failed: {}", peer, c.toString());
        }
        ctx.close();
    }
}
