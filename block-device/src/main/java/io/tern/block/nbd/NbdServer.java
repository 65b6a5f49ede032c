package io.tern.block.nbd;

import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
 *
 * <p>Threads: event loops ({@link NbdServerConfig#eventLoopThreads()}) own the sockets and never
 * wait on a device; device calls that may block on disk I/O run on the server's I/O threads
 * ({@link NbdServerConfig#ioThreads()}, named {@code tern-nbd-io-N}). Their queue has no fixed
 * size, but each connection's in-flight bound caps what it can put there.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);
    private static final AtomicLong PROTOCOL_ERRORS = new AtomicLong();
    private static final long IO_DRAIN_SECONDS = 10;

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService io;
    private final Channel channel;

    private NbdServer(EventLoopGroup boss, EventLoopGroup workers, ExecutorService io, Channel channel) {
        this.boss = boss;
        this.workers = workers;
        this.io = io;
        this.channel = channel;
    }

    /** The event loops that serve the connections (for {@link io.tern.block.metrics.EventLoopProbe}). */
    public EventLoopGroup eventLoops() {
        return workers;
    }

    /** Binds and starts serving. */
    public static NbdServer start(NbdServerConfig config, NbdExports exports) throws InterruptedException {
        config.conclude();
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(config.eventLoopThreads(), NioIoHandler.newFactory());
        ExecutorService io = ioExecutor(config.ioThreads());
        try {
            Channel ch = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childAttr(NbdTransmissionHandler.IO_EXECUTOR, io)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast("nbd-handshake", new NbdHandshakeHandler(exports, config));
                        }
                    })
                    .bind(config.listen()).sync().channel();
            log.info("NBD server listening on {}", ch.localAddress());
            return new NbdServer(boss, workers, io, ch);
        } catch (InterruptedException | RuntimeException e) {
            boss.shutdownGracefully();
            workers.shutdownGracefully();
            io.shutdown();
            throw e;
        }
    }

    private static ExecutorService ioExecutor(int threads) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> {
                    Thread t = new Thread(r, "tern-nbd-io-" + n.incrementAndGet());
                    t.setDaemon(true); // a device stuck in the kernel must not keep the process alive
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
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

    /** Stops listening, closes every connection, then waits for device calls in progress. Idempotent. */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        // Never shutdownNow: an interrupt during FileChannel I/O closes the device's channel for
        // every other user of the device. Calls in progress or queued finish; their replies are dropped.
        io.shutdown();
        boolean drained = false;
        try {
            drained = io.awaitTermination(IO_DRAIN_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!drained) {
            log.warn("NBD server on {}: device calls still running {} s after close; a device is stuck in disk I/O"
                    + " (its threads, tern-nbd-io-*, are left to finish)", channel.localAddress(), IO_DRAIN_SECONDS);
        }
    }
}
