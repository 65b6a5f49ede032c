package io.tern.block.nbd;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server (fixed newstyle) for a set of {@link NbdExports}. Each connection negotiates,
 * then serves one export; a connection that breaks the protocol is closed and counted, and the
 * server goes on serving everyone else.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);
    private static final AtomicLong PROTOCOL_ERRORS = new AtomicLong();

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    private NbdServer(EventLoopGroup boss, EventLoopGroup workers, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.channel = channel;
    }

    /** Binds and starts serving. */
    public static NbdServer start(NbdServerConfig config, NbdExports exports) throws InterruptedException {
        config.conclude();
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(config.ioThreads(), NioIoHandler.newFactory());
        try {
            Channel ch = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast("nbd-handshake", new NbdHandshakeHandler(exports, config));
                        }
                    })
                    .bind(config.listen()).sync().channel();
            log.info("NBD server listening on {}", ch.localAddress());
            return new NbdServer(boss, workers, ch);
        } catch (InterruptedException | RuntimeException e) {
            boss.shutdownGracefully();
            workers.shutdownGracefully();
            throw e;
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Connections closed so far because a client broke the protocol (all servers of this JVM). */
    public static long protocolErrors() {
        return PROTOCOL_ERRORS.get();
    }

    static void protocolError(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if (c instanceof NbdProtocolException) {
            PROTOCOL_ERRORS.incrementAndGet();
            log.info("{}: protocol error, closing: {}", ctx.channel().remoteAddress(), c.getMessage());
        } else if (c instanceof java.io.IOException) {
            log.debug("{}: connection error: {}", ctx.channel().remoteAddress(), c.toString());
        } else {
            log.warn("{}: unexpected error, closing", ctx.channel().remoteAddress(), c);
        }
        ctx.close();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
