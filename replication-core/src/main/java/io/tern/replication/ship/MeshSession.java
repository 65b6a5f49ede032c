package io.tern.replication.ship;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mesh session between two members of a resource, whatever their roles (both ends run this
 * once the LINKS-mode HELLO is welcomed): each sends its STATE (role, last LSN, history) at once
 * and again whenever it changes (and every 5 s), its own links ({@link LinkExchange}), and HANDOVER steps. The
 * peer's name is known from its HELLO (accepting end) or its first STATE (connecting end); links
 * are taken only from then on.
 *
 * <p>Thread contract: the session's event loop, except {@link #send}, which may be called from
 * any thread.
 */
public final class MeshSession extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(MeshSession.class);
    private static final java.util.concurrent.ExecutorService HANDOVERS = java.util.concurrent.Executors
            .newCachedThreadPool(r -> {
                Thread t = new Thread(r, "tern-handover");
                t.setDaemon(true);
                return t;
            });

    private final MeshMember member;
    private final String resource;
    private String peer;
    private ChannelHandlerContext ctx;
    private LinkExchange links;
    private Messages.State sent;
    private long sentAt;
    /** A state is sent again after this long even if unchanged (a peer that dropped it on another session's close). */
    private static final long RESEND_NANOS = TimeUnit.SECONDS.toNanos(5);
    private ScheduledFuture<?> timer;

    /** {@code peer} is {@code null} on the connecting end, until the peer's first STATE names it. */
    MeshSession(MeshMember member, String resource, String peer) {
        this.member = member;
        this.resource = resource;
        this.peer = peer;
    }

    /** The address this session's connection goes to ({@code host:port}). */
    public String remoteAddress() {
        java.net.SocketAddress a = ctx == null ? null : ctx.channel().remoteAddress();
        return a instanceof java.net.InetSocketAddress i ? i.getHostString() + ":" + i.getPort() : String.valueOf(a);
    }

    /** The peer's node name, or {@code null} before its first STATE. */
    public String peer() {
        return peer;
    }

    /** Starts the session on {@code ctx}: this node's state now and on every change, and its links. */
    void start(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        sendState();
        timer = ctx.executor().scheduleAtFixedRate(this::sendState, 200, 200, TimeUnit.MILLISECONDS);
        if (peer != null) {
            opened();
        }
    }

    private void opened() {
        links = new LinkExchange(member.links(), peer);
        links.start(ctx);
        member.session(peer, this, true);
        log.info("{}: mesh session with {} open", resource, peer);
    }

    private void sendState() {
        if (!ctx.channel().isActive()) {
            return;
        }
        Messages.State now = member.state();
        if (!now.equals(sent) || System.nanoTime() - sentAt > RESEND_NANOS) {
            sent = now;
            sentAt = System.nanoTime();
            FrameCodec.send(ctx, MessageType.STATE, b -> Messages.encode(now, b));
        }
    }

    /** Sends a HANDOVER step to the peer (from any thread). */
    public void send(Messages.Handover h) {
        ChannelHandlerContext c = ctx;
        c.executor().execute(() -> FrameCodec.send(c, MessageType.HANDOVER, b -> Messages.encode(h, b)));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(resource, peer)) {
            onRead(ctx, msg);
        }
    }

    private void onRead(ChannelHandlerContext ctx, Object msg) {
        Frame f = (Frame) msg;
        try {
            switch (f.type()) {
                case STATE -> {
                    Messages.State st = Messages.decodeState(f.payload());
                    if (peer == null) {
                        peer = st.node();
                        opened();
                    } else if (!peer.equals(st.node())) {
                        throw new ProtocolException(ErrorCode.PROTOCOL, "peer " + peer + " now says it is " + st.node());
                    }
                    member.peerState(peer, st);
                }
                case LINKS -> {
                    List<io.tern.links.Link> received = Messages.decodeLinks(f.payload());
                    if (links == null) {
                        throw new ProtocolException(ErrorCode.PROTOCOL, "LINKS before the peer's STATE");
                    }
                    links.received(received);
                }
                case HANDOVER -> handover(ctx, Messages.decodeHandover(f.payload()));
                case PING -> Messages.decodePing(f.payload());
                default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " on a mesh session");
            }
        } finally {
            f.release();
        }
    }

    private void handover(ChannelHandlerContext ctx, Messages.Handover h) {
        if (peer == null) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "HANDOVER before the peer's STATE");
        }
        String from = peer;
        if (h.kind() != Messages.HandoverKind.REQUEST) {
            member.handoverAnswer(from, h);
            return;
        }
        HANDOVERS.execute(() -> {
            Messages.Handover answer;
            try {
                answer = new Messages.Handover(Messages.HandoverKind.READY, member.handOver(from), "");
            } catch (IllegalStateException e) {
                answer = new Messages.Handover(Messages.HandoverKind.REFUSED, 0, String.valueOf(e.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                answer = new Messages.Handover(Messages.HandoverKind.REFUSED, 0, "interrupted");
            } catch (RuntimeException e) {
                log.error("{}: handover to {} failed", resource, from, e);
                answer = new Messages.Handover(Messages.HandoverKind.REFUSED, 0, e.toString());
            }
            send(answer);
        });
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.warn("{}: mesh session with {} failed: {}", resource, peer == null ? ctx.channel().remoteAddress() : peer,
                cause.toString());
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        if (links != null) {
            links.stop();
        }
        if (peer != null) {
            member.session(peer, this, false);
            log.info("{}: mesh session with {} closed", resource, peer);
        }
        ctx.fireChannelInactive();
    }
}
