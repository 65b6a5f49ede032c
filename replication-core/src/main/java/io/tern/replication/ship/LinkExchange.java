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
 * The LINKS exchange of one replication session: both ends send all their links when the
 * session starts, then every second whatever their store took since (written there or merged
 * from any peer, so the primary relays one secondary's links to the others), and merge what
 * they receive into their own store (the newer value wins; see {@link LinkStore#merge}). A link
 * that fails the store's checks is a protocol error.
 *
 * <p>Thread contract: the session's event loop only.
 */
final class LinkExchange {
    private static final Logger log = LoggerFactory.getLogger(LinkExchange.class);

    private final LinkStore store;
    private long sentUpTo;
    private ScheduledFuture<?> timer;

    LinkExchange(LinkStore store) {
        this.store = store;
    }

    /** Sends every link now and what changes every second from then on. */
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
        List<Link> links = changed.links();
        for (int from = 0; from < links.size(); from += Messages.MAX_LINKS) {
            List<Link> part = links.subList(from, Math.min(links.size(), from + Messages.MAX_LINKS));
            FrameCodec.send(ctx, MessageType.LINKS, b -> Messages.encodeLinks(part, b));
        }
        sentUpTo = changed.upTo();
    }

    void received(List<Link> links) {
        for (Link l : links) {
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
