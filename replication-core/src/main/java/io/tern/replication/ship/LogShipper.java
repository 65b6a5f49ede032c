package io.tern.replication.ship;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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

/**
 * The primary's replication listener for one resource: secondaries connect, say HELLO with the
 * LSN they need next, and receive the log from there ({@link ShippingHandler}). Their
 * acknowledged positions are kept for status and, later, retention.
 */
public final class LogShipper implements AutoCloseable {
    private final EventLoopGroup group;
    private final Channel channel;
    private final Map<String, MemberPosition> members = new ConcurrentHashMap<>();
    private final AtomicLong protocolErrors = new AtomicLong();

    private LogShipper(ShipperConfig config) throws InterruptedException {
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            this.channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new FrameDecoder()).addLast(new ShippingHandler(config, LogShipper.this));
                        }
                    })
                    .bind(config.listen()).sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            group.shutdownGracefully();
            throw e;
        }
    }

    public static LogShipper start(ShipperConfig config) throws InterruptedException {
        return new LogShipper(config.conclude());
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Each secondary's last acknowledged position, connected or not. */
    public Map<String, MemberPosition> members() {
        return Map.copyOf(members);
    }

    public long protocolErrors() {
        return protocolErrors.get();
    }

    void connected(String node, long from) {
        members.merge(node, new MemberPosition(node, from, 0, true),
                (old, now) -> new MemberPosition(node, old.receivedLsn(), old.replayedLsn(), true));
    }

    void acked(String node, long received, long replayed) {
        members.put(node, new MemberPosition(node, received, replayed, true));
    }

    void disconnected(String node) {
        members.computeIfPresent(node, (n, p) -> new MemberPosition(n, p.receivedLsn(), p.replayedLsn(), false));
    }

    void protocolError() {
        protocolErrors.incrementAndGet();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
