package io.tern.replication.ship;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.ScheduledFuture;
import io.tern.links.Link;
import io.tern.links.LinkStore;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The LINKS exchange of one mesh session: each end sends the links it owns (their names end in
 * {@code -<its node>}) when the session starts, then every second those that changed, and merges
 * what it receives into its own store (the newer value wins; see {@link LinkStore#merge}). A link
 * is taken only from its owner's own session: one about another node, or written by another,
 * is refused and counted ({@link #refused()}), logged once per session; the session goes on.
 * A link that fails the store's checks is a protocol error.
 *
 * <p>Thread contract: the session's event loop only.
 */
final class LinkExchange {
    private static final Logger log = LoggerFactory.getLogger(LinkExchange.class);
    private static final java.util.concurrent.atomic.AtomicLong REFUSED = new java.util.concurrent.atomic.AtomicLong();

    private final LinkStore store;
    private final String self;
    private final String peer;
    private long sentUpTo;
    private boolean warned;
    private ScheduledFuture<?> timer;

    LinkExchange(LinkStore store, String peer) {
        this.store = store;
        this.self = store.node();
        this.peer = peer;
    }

    /** Links refused since start because they came from a node that does not own them (all sessions). */
    static long refused() {
        return REFUSED.get();
    }

    /** Whether {@code node} owns the link {@code name}: its name ends in {@code -node}. */
    static boolean owns(String node, String name) {
        return name.endsWith("-" + node) && name.length() > node.length() + 1;
    }

    /** Sends every owned link now and what changes every second from then on. */
    void start(ChannelHandlerContext ctx) {
        sendNew(ctx);
        timer = ctx.executor().scheduleAtFixedRate(() -> sendNew(ctx), 1, 1, TimeUnit.SECONDS);
    }

    void stop() {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    private void sendNew(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            return;
        }
        LinkStore.Changes changed = store.changesSince(sentUpTo);
        List<Link> links = changed.links().stream().filter(l -> owns(self, l.name()) && self.equals(l.node())).toList();
        for (int from = 0; from < links.size(); from += Messages.MAX_LINKS) {
            List<Link> part = links.subList(from, Math.min(links.size(), from + Messages.MAX_LINKS));
            FrameCodec.send(ctx, MessageType.LINKS, b -> Messages.encodeLinks(part, b));
        }
        sentUpTo = changed.upTo();
    }

    void received(List<Link> links) {
        for (Link l : links) {
            if (!owns(peer, l.name()) || !peer.equals(l.node())) {
                REFUSED.incrementAndGet();
                if (!warned) {
                    warned = true;
                    log.warn("{}: refusing link {} written by {}: a link is taken only from the node that owns it "
                            + "(the last part of its name)", peer, l.name(), l.node());
                }
                continue;
            }
            try {
                store.merge(l);
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "bad link from the peer: " + e.getMessage());
            } catch (IOException e) {
                log.error("cannot store link {} from {}: {}", l.name(), l.node(), e.toString());
            }
        }
    }
}
