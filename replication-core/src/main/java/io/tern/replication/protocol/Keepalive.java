package io.tern.replication.protocol;

import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a replication connection honest: a PING when nothing was written for a second, and the
 * connection closed when nothing at all was read for {@link #DEAD_SECONDS} (a dead peer, a
 * black-holed link, or a frame whose damaged length has the decoder waiting for bytes that will
 * never come: it sits after the frame decoder, so only whole frames count as heard). Both sides
 * ping, so a live connection is never idle that long.
 */
public final class Keepalive extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Keepalive.class);
    public static final int PING_SECONDS = 1;
    public static final int DEAD_SECONDS = 10;

    private Keepalive() {
    }

    /** Adds the idle detection and this handler at the end of {@code p}: call it right after adding the decoder. */
    public static void install(ChannelPipeline p) {
        p.addLast("idle", new IdleStateHandler(DEAD_SECONDS, PING_SECONDS, 0, TimeUnit.SECONDS));
        p.addLast("keepalive", new Keepalive());
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent e) {
            if (e.state() == IdleState.WRITER_IDLE) {
                FrameCodec.send(ctx, MessageType.PING, b -> Messages.encode(new Messages.Ping(System.nanoTime()), b));
            } else if (e.state() == IdleState.READER_IDLE) {
                log.warn("nothing heard from {} for {} s: closing the connection", ctx.channel().remoteAddress(),
                        DEAD_SECONDS);
                ctx.close();
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }
}
