package io.tern.replication.protocol;

import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a replication connection honest: a PING when nothing was written for
 * {@link #PING_SECONDS}, and the connection closed when nothing was heard from the peer for
 * {@link #DEAD_SECONDS} (a dead peer, a black-holed link). Both sides ping, so a live connection
 * is never silent that long.
 *
 * <p>Heard means a whole frame arrived, or {@link #HEARD_BYTES} raw bytes of one did: a large
 * frame crawling over a slow link (2 MiB of records at 64 KiB/s, a low {@code --fetch-rate})
 * keeps its connection although no frame completes for half a minute. The raw bytes are counted
 * at the head of the pipeline, before any rate limiter or decoder.
 *
 * <p>Why not every byte: a frame whose length field was damaged (yet under
 * {@link FrameCodec#MAX_PAYLOAD}, which {@link FrameDecoder} refuses at once) has the decoder
 * wait for bytes that are not that frame's. While the peer ships, they pile up fast and the
 * frame then fails its checksum; while it only pings, a few dozen bytes a second trickle in, far
 * under {@code HEARD_BYTES} per {@code DEAD_SECONDS}, so the connection is closed as silent. A
 * link slower than {@code HEARD_BYTES / DEAD_SECONDS} (about 400 B/s) is treated as dead.
 *
 * <p>Reading that this side suspends (a traffic shaper turning auto-read off to hold a rate) is
 * not silence: the peer cannot be heard while nobody listens.
 *
 * <p>Thread contract: everything runs on the channel's event loop.
 */
public final class Keepalive extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Keepalive.class);
    public static final int PING_SECONDS = 1;
    public static final int DEAD_SECONDS = 10;
    /** Raw bytes of a frame still arriving that count as hearing from the peer. */
    public static final int HEARD_BYTES = 4096;
    private static final long DEAD_NANOS = TimeUnit.SECONDS.toNanos(DEAD_SECONDS);
    /** How often silence is looked for. */
    private static final long CHECK_MILLIS = 500;

    private long heardAt;
    /** Raw bytes read since the peer was last heard. */
    private long unheardBytes;
    private ScheduledFuture<?> check;

    private Keepalive() {
    }

    /**
     * Adds the keepalive to {@code p}: a raw byte counter at its head, and after what is there
     * now the write-idle detection and the handler that hears frames, pings and closes. Call it
     * right after adding the frame decoder.
     */
    public static void install(ChannelPipeline p) {
        Keepalive k = new Keepalive();
        p.addFirst("keepalive-bytes", k.new BytesRead());
        p.addLast("idle", new IdleStateHandler(0, PING_SECONDS, 0, TimeUnit.SECONDS));
        p.addLast("keepalive", k);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            startChecking(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        startChecking(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        stopChecking();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stopChecking();
    }

    private void startChecking(ChannelHandlerContext ctx) {
        if (check != null) {
            return;
        }
        heardAt = now(ctx);
        check = ctx.executor().scheduleAtFixedRate(() -> checkHeard(ctx), CHECK_MILLIS, CHECK_MILLIS,
                TimeUnit.MILLISECONDS);
    }

    private void stopChecking() {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }

    private void checkHeard(ChannelHandlerContext ctx) {
        long now = now(ctx);
        if (!ctx.channel().config().isAutoRead()) {
            heardAt = now; // this side holds reading back: not the peer's silence
            return;
        }
        if (now - heardAt >= DEAD_NANOS && ctx.channel().isOpen()) {
            log.warn("nothing heard from {} for {} s{}: closing the connection", ctx.channel().remoteAddress(),
                    DEAD_SECONDS, unheardBytes == 0 ? ""
                            : " (" + unheardBytes + " bytes of a frame that never completes: a damaged length?)");
            stopChecking();
            ctx.close();
        }
    }

    /** A whole frame: the peer is heard. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        heard(ctx);
        ctx.fireChannelRead(msg);
    }

    private void heard(ChannelHandlerContext ctx) {
        heardAt = now(ctx);
        unheardBytes = 0;
    }

    private static long now(ChannelHandlerContext ctx) {
        return ctx.executor().ticker().nanoTime();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent e && e.state() == IdleState.WRITER_IDLE) {
            FrameCodec.send(ctx, MessageType.PING, b -> Messages.encode(new Messages.Ping(System.nanoTime()), b));
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    /** At the pipeline's head: raw bytes read, before any decoder or rate limiter. */
    private final class BytesRead extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            long n = msg instanceof ByteBuf b ? b.readableBytes()
                    : msg instanceof ByteBufHolder h ? h.content().readableBytes() : 0;
            unheardBytes += n;
            if (unheardBytes >= HEARD_BYTES) {
                heard(ctx);
            }
            ctx.fireChannelRead(msg);
        }
    }
}
