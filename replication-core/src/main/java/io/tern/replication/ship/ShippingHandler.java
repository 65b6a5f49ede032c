package io.tern.replication.ship;

import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.tern.log.LogCorruptedException;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.TransactionLog;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's side of one secondary's connection, a small state machine: AWAIT_HELLO (check
 * cluster, resource and the requested LSN, answer WELCOME or REJECT) then SHIPPING (read the log
 * from where the secondary asked and send RECORDS frames while the channel is writable; take its
 * ACKs). Only durable records are shipped (the log's readers see nothing else).
 *
 * <p>Thread contract: everything runs on the connection's event loop, which owns the log reader.
 */
final class ShippingHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ShippingHandler.class);
    /** How often an idle session looks for new durable records. */
    private static final long IDLE_POLL_MICROS = 500;

    private enum State { AWAIT_HELLO, SHIPPING, CLOSED }

    private final ShipperConfig config;
    private final LogShipper shipper;
    private final LogRecord record = new LogRecord();
    private State state = State.AWAIT_HELLO;
    private LogReader reader;
    private String peer = "?";
    private boolean pumpScheduled;

    ShippingHandler(ShipperConfig config, LogShipper shipper) {
        this.config = config;
        this.shipper = shipper;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Frame f = (Frame) msg;
        try {
            switch (state) {
                case AWAIT_HELLO -> {
                    if (f.type() != MessageType.HELLO) {
                        throw new ProtocolException(ErrorCode.PROTOCOL, "expected HELLO, got " + f.type());
                    }
                    hello(ctx, Messages.decodeHello(f.payload()));
                }
                case SHIPPING -> {
                    switch (f.type()) {
                        case ACK -> {
                            Messages.Ack a = Messages.decodeAck(f.payload());
                            shipper.acked(peer, a.receivedLsn(), a.replayedLsn());
                        }
                        case PING -> Messages.decodePing(f.payload());
                        default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " while shipping");
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
        TransactionLog txlog = config.log();
        ErrorCode refusal = null;
        String reason = null;
        if (!h.clusterId().equals(config.clusterId())) {
            refusal = ErrorCode.WRONG_CLUSTER;
            reason = "cluster '" + h.clusterId() + "' is not this node's cluster '" + config.clusterId() + "'";
        } else if (!h.resource().equals(config.resource())) {
            refusal = ErrorCode.UNKNOWN_RESOURCE;
            reason = "no resource '" + h.resource() + "' here";
        } else if (h.fromLsn() < txlog.firstLsn()) {
            refusal = ErrorCode.BEHIND_RETENTION;
            reason = "lsn " + h.fromLsn() + " is no longer in the log (it starts at " + txlog.firstLsn() + "): a full sync is needed";
        } else if (h.fromLsn() > txlog.durableLsn() + 1) {
            refusal = ErrorCode.SPLIT_BRAIN;
            reason = "the peer asks from lsn " + h.fromLsn() + " but this log ends at " + txlog.durableLsn();
        }
        if (refusal != null) {
            log.warn("{}: refusing {} for {}: {}", config.resource(), peer, h.resource(), reason);
            state = State.CLOSED;
            Messages.Reject reject = new Messages.Reject(refusal, reason);
            send(ctx, MessageType.REJECT, b -> Messages.encode(reject, b)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        reader = txlog.reader(h.fromLsn());
        state = State.SHIPPING;
        shipper.connected(peer, h.fromLsn() - 1);
        send(ctx, MessageType.WELCOME, b -> Messages.encode(
                new Messages.Welcome(config.epoch(), txlog.firstLsn(), txlog.durableLsn()), b));
        log.info("{}: shipping to {} from lsn {}", config.resource(), peer, h.fromLsn());
        pump(ctx);
    }

    /** Sends batches while the channel takes them; looks again shortly when the log has nothing new. */
    private void pump(ChannelHandlerContext ctx) {
        pumpScheduled = false;
        if (state != State.SHIPPING) {
            return;
        }
        try {
            while (ctx.channel().isWritable()) {
                ByteBuf batch = nextBatch(ctx);
                if (batch == null) {
                    schedulePump(ctx, IDLE_POLL_MICROS);
                    return;
                }
                ByteBuf frame = FrameCodec.encode(ctx.alloc(), MessageType.RECORDS, batch);
                batch.release();
                ctx.writeAndFlush(frame);
            }
        } catch (LogCorruptedException e) {
            log.error("{}: cannot ship to {}: {}", config.resource(), peer, e.getMessage());
            ctx.close();
        }
    }

    /** The next RECORDS payload of up to maxBatchBytes, or null if no durable record is waiting. */
    private ByteBuf nextBatch(ChannelHandlerContext ctx) {
        ByteBuf batch = null;
        int count = 0;
        while (count < io.tern.replication.protocol.RecordBatch.MAX_RECORDS
                && (batch == null || batch.readableBytes() < config.maxBatchBytes()) && reader.next(record)) {
            if (batch == null) {
                batch = ctx.alloc().buffer(config.maxBatchBytes() + 64).writeInt(0);
            }
            java.nio.ByteBuffer encoded = record.encoded();
            batch.writeInt(encoded.remaining()).writeBytes(encoded);
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
        if (state == State.SHIPPING) {
            shipper.disconnected(peer);
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
        Throwable c = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof ProtocolException) {
            shipper.protocolError();
            log.warn("{}: protocol error from {}: {}", config.resource(), peer, c.getMessage());
        } else {
            log.warn("{}: connection to {} failed: {}", config.resource(), peer, c.toString());
        }
        ctx.close();
    }

    static io.netty.channel.ChannelFuture send(ChannelHandlerContext ctx, MessageType type,
                                               java.util.function.Consumer<ByteBuf> body) {
        ByteBuf payload = ctx.alloc().buffer();
        try {
            body.accept(payload);
            return ctx.writeAndFlush(FrameCodec.encode(ctx.alloc(), type, payload));
        } finally {
            payload.release();
        }
    }
}
