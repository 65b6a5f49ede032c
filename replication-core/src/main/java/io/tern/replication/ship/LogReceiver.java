package io.tern.replication.ship;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.tern.log.TransactionLog;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import io.tern.replication.protocol.RecordBatch;
import io.tern.replication.protocol.RecordStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A secondary's side: connects to the primary, asks for the records after its own durable end,
 * stores each in its log as is ({@link TransactionLog#appendReplica}) and acknowledges what is
 * durable. Any disconnect — a cut link, a restart on either side — is followed by a reconnect
 * with exponential backoff and jitter, which resumes exactly from the durable end: the pull
 * model needs no state but the log. A REJECT for a reason that waiting cannot cure (another
 * cluster, an unknown resource, records gone) stops it; {@link #refusal()} says why. A split
 * brain is asked about again with backoff (nothing is received while it lasts), so that the
 * refusal's reason stays current and a resolved fork is welcomed.
 *
 * <p>Thread contract: network events run on the receiver's event loop; appends complete on the
 * log's thread and only write ACKs to the channel.
 */
public final class LogReceiver implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LogReceiver.class);

    private final String clusterId;
    private final String resource;
    private final String node;
    private final TransactionLog txlog;
    private final InetSocketAddress primary;
    private volatile boolean compress;
    private volatile io.tern.replication.history.LocalHistory history;
    private volatile long rateLimit;
    private volatile FrameDecoder decoder;
    private final java.util.concurrent.atomic.AtomicLong wireBytesDone = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong plainBytesDone = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.function.LongSupplier replayed;
    private final io.tern.replication.protocol.PeerConnector connector;
    private volatile boolean stopped;
    private volatile Messages.Reject refusal;
    private volatile Channel channel;
    private volatile long connects;
    private volatile boolean connected;
    /** Why the last received batch could not be stored (e.g. the log's file system is full); null once one is. */
    private volatile String problem;
    private volatile long primaryLsn;

    public LogReceiver(String clusterId, String resource, String node, TransactionLog txlog, InetSocketAddress primary) {
        this(clusterId, resource, node, txlog, primary, () -> 0);
    }

    /** With {@code replayed}, the replay position to acknowledge besides what is received. */
    public LogReceiver(String clusterId, String resource, String node, TransactionLog txlog, InetSocketAddress primary,
                       java.util.function.LongSupplier replayed) {
        this.replayed = replayed;
        this.clusterId = clusterId;
        this.resource = resource;
        this.node = node;
        this.txlog = txlog;
        this.primary = primary;
        // A split brain is not given up on: the primary is asked again (with backoff), so what it says
        // about the fork stays current, and a resolved fork is welcomed.
        this.connector = new io.tern.replication.protocol.PeerConnector(resource, primary, this::initChannel,
                () -> stopped || refusal != null && refusal.code() != ErrorCode.SPLIT_BRAIN);
    }

    /**
     * This node's history of the resource (optional): sent in HELLO so that the primary can tell
     * a fork, and extended by every EPOCH record received, before the record is stored. An EPOCH
     * record that does not follow it, or a record of another epoch than its head's, stops the
     * receiver as a split brain. Before {@link #start()}.
     */
    public LogReceiver history(io.tern.replication.history.LocalHistory history) {
        this.history = history;
        return this;
    }

    /** Asks the primary to compress what it sends (zstd, per frame). Before {@link #start()}. */
    /** Reaches the primary over {@code t} (plain TCP unless said). */
    public LogReceiver transport(io.tern.security.Transport t) {
        connector.transport(t, null);
        return this;
    }

    public LogReceiver compress(boolean compress) {
        this.compress = compress;
        return this;
    }

    /**
     * Reads at most this many bytes per second from the primary (0: no limit), with Netty's
     * traffic shaping; TCP's window carries the limit back to the primary, whose shipper waits.
     * Before {@link #start()}.
     */
    public LogReceiver rateLimit(long bytesPerSecond) {
        this.rateLimit = bytesPerSecond;
        return this;
    }

    /** Bytes of compressed frames as received, and as decompressed, since start. */
    public long compressedBytes() {
        FrameDecoder d = decoder;
        return wireBytesDone.get() + (d == null ? 0 : d.compressedBytes());
    }

    public long decompressedBytes() {
        FrameDecoder d = decoder;
        return plainBytesDone.get() + (d == null ? 0 : d.decompressedBytes());
    }

    /** Starts connecting; returns at once. */
    public LogReceiver start() {
        connect();
        return this;
    }

    /** Why the primary refused this node for good, or {@code null}. */
    public Messages.Reject refusal() {
        return refusal;
    }

    /** Whether a session with the primary is open (welcomed). */
    public boolean connected() {
        return connected;
    }

    /** Why the last received batch could not be stored, or null: the session retries from the durable end. */
    public String problem() {
        return problem;
    }

    /** The primary's last durable LSN, as last heard (WELCOME, then the records received). */
    public long primaryLsn() {
        return Math.max(primaryLsn, txlog.durableLsn());
    }

    /** Sessions the primary welcomed so far. */
    public long sessions() {
        return connects;
    }

    /** Drops the current connection (a test seam for a cut link); the receiver reconnects by itself. */
    public void dropConnection() {
        Channel c = channel;
        if (c != null) {
            c.close();
        }
    }

    private void connect() {
        connector.connect();
    }

    /** Each connection's pipeline: [rate limit], frames, keepalive, the session. */
    private void initChannel(SocketChannel c) {
        if (rateLimit > 0) {
            c.pipeline().addLast(new io.netty.handler.traffic.ChannelTrafficShapingHandler(0, rateLimit, 100));
        }
        FrameDecoder d = new FrameDecoder();
        c.pipeline().addLast(d);
        c.closeFuture().addListener(x -> {
            wireBytesDone.addAndGet(d.compressedBytes());
            plainBytesDone.addAndGet(d.decompressedBytes());
            if (decoder == d) {
                decoder = null;
            }
        });
        decoder = d;
        io.tern.replication.protocol.Keepalive.install(c.pipeline());
        c.pipeline().addLast(new Session());
    }

    /** How often the positions are acknowledged when they moved without a batch arriving (replay catching up). */
    private static final long ACK_INTERVAL_MS = 100;

    /** One connection. */
    private final class Session extends ChannelInboundHandlerAdapter {
        private boolean welcomed;
        /** A record of this session could not be stored: the session is closing, later ones are dropped. */
        private volatile boolean refused;
        private long lastAckedReplayed = -1;
        private io.netty.util.concurrent.ScheduledFuture<?> acker;
        private RecordStream stream;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            stream = new RecordStream(ctx.alloc());
            long from = txlog.durableLsn() + 1;
            FrameCodec.send(ctx, MessageType.HELLO, b -> Messages.encode(
                    Messages.Hello.of(clusterId, resource, node, history == null
                            ? io.tern.replication.history.History.empty() : history.get(), from,
                            Messages.Mode.STREAM, compress), b));
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
                    case WELCOME -> {
                        primaryLsn = Messages.decodeWelcome(f.payload()).lastLsn();
                        refusal = null;
                        welcomed = true;
                        connected = true;
                        // While records cannot be stored, the retries keep backing off.
                        connector.welcomed(problem == null);
                        connects++;
                        acker = ctx.executor().scheduleAtFixedRate(() -> ackIfMoved(ctx), ACK_INTERVAL_MS,
                                ACK_INTERVAL_MS, TimeUnit.MILLISECONDS);
                    }
                    case REJECT -> {
                        Messages.Reject r = Messages.decodeReject(f.payload());
                        log.error("{}: the primary refused this node: {} ({})", resource, r.reason(), r.code());
                        if (r.code() != ErrorCode.PROTOCOL && r.code() != ErrorCode.NOT_PRIMARY) {
                            refusal = r;
                        }
                        ctx.close();
                    }
                    case RECORDS -> {
                        if (!welcomed) {
                            throw new ProtocolException(ErrorCode.PROTOCOL, "RECORDS before WELCOME");
                        }
                        List<ByteBuffer> copies = new java.util.ArrayList<>();
                        for (ByteBuf r : RecordBatch.decode(f.payload())) {
                            ByteBuffer copy = ByteBuffer.allocate(r.readableBytes());
                            r.getBytes(r.readerIndex(), copy);
                            copies.add(copy.flip());
                        }
                        store(ctx, copies);
                    }
                    case RECORD_STREAM -> {
                        if (!welcomed) {
                            throw new ProtocolException(ErrorCode.PROTOCOL, "RECORD_STREAM before WELCOME");
                        }
                        List<ByteBuffer> records = stream.feed(f.payload());
                        if (!records.isEmpty()) {
                            store(ctx, records);
                        }
                    }
                    case PING -> Messages.decodePing(f.payload());
                    default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type());
                }
            } finally {
                f.release();
            }
        }

        /**
         * Appends each record (a copy: the frame is released at once) and acknowledges the last
         * once durable. After a record is refused, the rest of the session's records are dropped:
         * the session closes and the next one asks again from the durable end.
         */
        private void store(ChannelHandlerContext ctx, List<ByteBuffer> records) {
            for (int i = 0; i < records.size() && !refused; i++) {
                ByteBuffer copy = records.get(i);
                String diverged = followHistory(copy);
                if (diverged != null) {
                    refused = true;
                    problem = diverged;
                    refusal = new Messages.Reject(ErrorCode.SPLIT_BRAIN, diverged);
                    log.error("{}: {}", resource, diverged);
                    ctx.close();
                    return;
                }
                boolean last = i == records.size() - 1;
                txlog.appendReplica(copy, true, (lsn, error) -> {
                    if (error != null) {
                        if (!refused) {
                            refused = true;
                            if (problem == null) { // once per episode: a full disk must not fill up with warnings
                                log.warn("{}: cannot store received records, retrying with backoff: {}", resource,
                                        error.getMessage());
                            }
                            problem = String.valueOf(error.getMessage());
                            if (error instanceof io.tern.log.ReplicaConflictException) {
                                // Asking again would get the same divergent record: stop until resolved.
                                refusal = new Messages.Reject(ErrorCode.SPLIT_BRAIN, problem);
                                log.error("{}: {}", resource, problem);
                            }
                            ctx.close(); // reconnect and ask again from the durable end
                        }
                    } else if (last && !refused) {
                        if (problem != null) {
                            log.info("{}: storing received records again", resource);
                            problem = null;
                            ctx.executor().execute(() -> connector.welcomed(true)); // the connector lives on the event loop
                        }
                        long done = Math.min(lsn, replayed.getAsLong());
                        FrameCodec.send(ctx, MessageType.ACK, b -> Messages.encode(new Messages.Ack(lsn, done), b));
                    }
                });
            }
        }

        /**
         * Checks a record against this node's history before it is stored: an EPOCH record must
         * be the head or follow it (then it becomes the head, durably); any other record must
         * carry the epoch of the version that holds its LSN here. Returns why it diverges, or {@code null}. A record whose header
         * is bad is left to the log's own verification.
         */
        private String followHistory(ByteBuffer record) {
            io.tern.replication.history.LocalHistory h = history;
            if (h == null || io.tern.log.RecordCodec.checkHeader(record) != null) {
                return null;
            }
            long lsn = io.tern.log.RecordCodec.lsnOf(record);
            if (lsn <= txlog.lastLsn()) {
                return null; // held already: the log compares it with its copy
            }
            long epoch = io.tern.log.RecordCodec.epochOf(record);
            if (io.tern.log.RecordCodec.opOf(record) == io.tern.log.RecordOp.EPOCH) {
                io.tern.log.LogRecord r = new io.tern.log.LogRecord();
                if (io.tern.log.RecordCodec.decode(record.duplicate(), r) != null) {
                    return null;
                }
                try {
                    h.received(io.tern.replication.history.Version.fromEpochRecord(epoch, lsn, r.payload()));
                    return null;
                } catch (IllegalStateException | IllegalArgumentException e) {
                    return "split brain: " + e.getMessage();
                } catch (java.io.IOException e) {
                    return "cannot store this node's history: " + e;
                }
            }
            io.tern.replication.history.Version at = h.get().versionAt(lsn);
            if (at != null && epoch != at.epoch()) {
                return "split brain: the primary sent record lsn " + lsn + " of epoch " + epoch + " where this node's "
                        + "history has " + at;
            }
            return null;
        }

        /** On the event loop: tells the primary the replay position when it moved since the last ACK. */
        private void ackIfMoved(ChannelHandlerContext ctx) {
            long received = txlog.durableLsn();
            long done = Math.min(received, replayed.getAsLong());
            if (done != lastAckedReplayed) {
                lastAckedReplayed = done;
                FrameCodec.send(ctx, MessageType.ACK, b -> Messages.encode(new Messages.Ack(received, done), b));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (stream != null) {
                stream.release();
            }
            if (acker != null) {
                acker.cancel(false);
            }
            channel = null;
            connected = false;
            ctx.fireChannelInactive(); // the connector reconnects
        }
    }

    @Override
    public void close() {
        stopped = true;
        Channel c = channel;
        if (c != null) {
            c.close().syncUninterruptibly();
        }
        connector.close();
    }
}
