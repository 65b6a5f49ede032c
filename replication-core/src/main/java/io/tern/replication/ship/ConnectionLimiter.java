package io.tern.replication.ship;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the connections a listener holds: at most {@code perSource} from one address and
 * {@code total} in all. A connection past either is closed as it opens, before anything is read
 * from it, and counted; the first refusal of an episode is logged, and the episode ends once the
 * listener is back under both bounds. Connections that never say HELLO are closed by
 * {@link io.tern.replication.protocol.Keepalive}, so a flood drains by itself.
 */
@ChannelHandler.Sharable
final class ConnectionLimiter extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ConnectionLimiter.class);
    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("tern.limiter.counted");

    private final int perSource;
    private final int total;
    private final ConcurrentHashMap<InetAddress, AtomicInteger> bySource = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicBoolean refusing = new AtomicBoolean();

    ConnectionLimiter(int perSource, int total) {
        this.perSource = perSource;
        this.total = total;
    }

    /** Connections refused since start. */
    long refused() {
        return refused.get();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        InetAddress source = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        int fromSource = bySource.computeIfAbsent(source, a -> new AtomicInteger()).incrementAndGet();
        int all = open.incrementAndGet();
        ctx.channel().attr(COUNTED).set(source);
        if (fromSource > perSource || all > total) {
            refused.incrementAndGet();
            if (refusing.compareAndSet(false, true)) {
                log.warn("refusing replication connections: {} open from {} (at most {}), {} in all (at most {}); "
                        + "counted in tern_replication_connections_refused_total, logged once until it eases",
                        fromSource, source.getHostAddress(), perSource, all, total);
            }
            ctx.close();
            return;
        }
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        InetAddress source = ctx.channel().attr(COUNTED).getAndSet(null);
        if (source != null) {
            AtomicInteger n = bySource.get(source);
            if (n != null && n.decrementAndGet() <= 0) {
                bySource.remove(source, n);
            }
            if (open.decrementAndGet() < total * 9 / 10 && (n == null || n.get() < perSource * 9 / 10)
                    && refusing.compareAndSet(true, false)) {
                log.info("replication connections back under their bounds ({} open)", open.get());
            }
        }
        super.channelInactive(ctx);
    }
}
