package io.tern.replication.ship;

import java.net.InetSocketAddress;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.PeerConnector;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's end of a mesh session it opens: connects to a member's replication address, says
 * HELLO in LINKS mode and, once welcomed, runs a {@link MeshSession}. Reconnects with backoff
 * after any loss, until closed; a REJECT for an unknown resource also backs off (the peer may
 * not have the resource yet).
 */
public final class MeshLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MeshLink.class);

    private final String clusterId;
    private final String resource;
    private final MeshMember member;
    private final InetSocketAddress address;
    private final PeerConnector connector;
    private volatile boolean stopped;

    public MeshLink(String clusterId, String resource, MeshMember member, InetSocketAddress address) {
        this.clusterId = clusterId;
        this.resource = resource;
        this.member = member;
        this.address = address;
        this.connector = new PeerConnector(resource + ": mesh", address, this::init, () -> stopped);
    }

    public InetSocketAddress address() {
        return address;
    }

    /** Reaches the peer over {@code t} (plain TCP unless said); call before {@link #start}. */
    public MeshLink transport(io.tern.security.Transport t) {
        connector.transport(t, null);
        return this;
    }

    public MeshLink start() {
        connector.connect();
        return this;
    }

    private void init(SocketChannel c) {
        c.pipeline().addLast(new FrameDecoder());
        io.tern.replication.protocol.Keepalive.install(c.pipeline());
        c.pipeline().addLast(new Handshake());
    }

    /** Until WELCOME: then the pipeline's session is a {@link MeshSession}. */
    private final class Handshake extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Messages.State st = member.state();
            FrameCodec.send(ctx, MessageType.HELLO, b -> Messages.encode(new Messages.Hello(clusterId, resource,
                    member.node(), st.history(), 0, Messages.Mode.LINKS, 0), b));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Frame f = (Frame) msg;
            try {
                switch (f.type()) {
                    case WELCOME -> {
                        Messages.decodeWelcome(f.payload());
                        connector.welcomed();
                        MeshSession session = new MeshSession(member, resource, null);
                        ctx.pipeline().replace(this, "mesh", session);
                        session.start(ctx.pipeline().context(session));
                    }
                    case REJECT -> {
                        Messages.Reject r = Messages.decodeReject(f.payload());
                        log.info("{}: {} refused a mesh session: {} ({})", resource, address, r.reason(), r.code());
                        ctx.close();
                    }
                    default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " before WELCOME");
                }
            } finally {
                f.release();
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        connector.close();
    }

}
