package io.tern.replication.ship;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.ProtocolException;

/**
 * A node's replication listener: every peer of every resource connects here, says HELLO, and
 * is routed by resource name to that resource's {@link LogShipper}. A HELLO from another
 * cluster, for an unknown resource or for one this node is not primary of gets a REJECT; a
 * malformed frame closes that connection and counts in {@link #protocolErrors()}. Others are
 * not affected.
 */
public final class ReplicationServer implements AutoCloseable {
    /** Finds the shipper of a resource, or says why there is none. */
    @FunctionalInterface
    public interface Directory {
        /** @throws ProtocolException with UNKNOWN_RESOURCE or NOT_PRIMARY */
        LogShipper shipper(String resource);

        /** The resource's member for mesh sessions, whatever this node's role; {@code null} if there is no such resource. */
        default MeshMember member(String resource) {
            return null;
        }
    }

    /** The largest frame before HELLO: a HELLO with a full history (256 versions) fits. */
    static final int PRE_HELLO_MAX = 256 << 10;
    private final String clusterId;
    private final Directory directory;
    private final EventLoopGroup group;
    private final Channel channel;
    private final AtomicLong protocolErrors = new AtomicLong();
    /** HELLOs answered with a REJECT since start, by the code sent. */
    private final java.util.Map<io.tern.replication.protocol.ErrorCode, AtomicLong> rejected =
            new java.util.EnumMap<>(io.tern.replication.protocol.ErrorCode.class);

    /** Connections one address may hold open at once. */
    public static final int MAX_CONNECTIONS_PER_SOURCE = 512;
    /** Connections the listener holds open at once. */
    public static final int MAX_CONNECTIONS = 4096;
    private final ConnectionLimiter limiter;

    private final io.tern.security.Transport transport;

    private ReplicationServer(InetSocketAddress listen, String clusterId, Directory directory,
                              io.tern.security.Transport transport, int perSource, int total) throws InterruptedException {
        this.clusterId = clusterId;
        this.transport = transport;
        this.limiter = new ConnectionLimiter(perSource, total);
        this.directory = directory;
        for (io.tern.replication.protocol.ErrorCode code : io.tern.replication.protocol.ErrorCode.values()) {
            rejected.put(code, new AtomicLong());
        }
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            this.channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(limiter);
                            // TLS (when on) before anything that parses a byte: a peer without a
                            // certificate of the cluster never reaches the frame decoder.
                            transport.server(c);
                            // Until a peer says who it is, its frames are HELLO-sized: a stranger cannot
                            // make this node buffer a 64 MiB frame per connection.
                            c.pipeline().addLast(new FrameDecoder(PRE_HELLO_MAX));
                        io.tern.replication.protocol.Keepalive.install(c.pipeline());
                        c.pipeline().addLast(new ShippingHandler(ReplicationServer.this));
                        }
                    })
                    .bind(listen).sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            group.shutdownGracefully();
            throw e;
        }
    }

    /** A listener on plain TCP (in-process tests, loopback). */
    public static ReplicationServer start(InetSocketAddress listen, String clusterId, Directory directory)
            throws InterruptedException {
        return start(listen, clusterId, directory, io.tern.security.Transport.plain());
    }

    public static ReplicationServer start(InetSocketAddress listen, String clusterId, Directory directory,
                                          io.tern.security.Transport transport) throws InterruptedException {
        return new ReplicationServer(listen, clusterId, directory, transport, MAX_CONNECTIONS_PER_SOURCE,
                MAX_CONNECTIONS);
    }

    /** A listener with other connection bounds (tests). */
    static ReplicationServer start(InetSocketAddress listen, String clusterId, Directory directory, int perSource,
                                   int total) throws InterruptedException {
        return new ReplicationServer(listen, clusterId, directory, io.tern.security.Transport.plain(), perSource, total);
    }

    /** Connections refused since start because one address or the listener held too many. */
    public long connectionsRefused() {
        return limiter.refused();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    public String clusterId() {
        return clusterId;
    }

    Directory directory() {
        return directory;
    }

    /** Links refused on mesh sessions since start because the sender does not own them (all sessions of this process). */
    public static long linksRefused() {
        return LinkExchange.refused();
    }

    /** Connections closed for a malformed frame or message since start. */
    public long protocolErrors() {
        return protocolErrors.get();
    }

    void protocolError() {
        protocolErrors.incrementAndGet();
    }

    /** HELLOs this listener answered with a REJECT of {@code code} since start. */
    public long rejected(io.tern.replication.protocol.ErrorCode code) {
        return rejected.get(code).get();
    }

    void countReject(io.tern.replication.protocol.ErrorCode code) {
        rejected.get(code).incrementAndGet();
    }

    /** The event loop that serves every peer connection (for {@link io.tern.block.metrics.EventLoopProbe}). */
    public EventLoopGroup eventLoops() {
        return group;
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
