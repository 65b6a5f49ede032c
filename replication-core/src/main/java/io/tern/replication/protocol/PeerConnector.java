package io.tern.replication.protocol;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of a replication connection, on its own event loop: connects to a peer, lets
 * {@code init} build each connection's pipeline, and after a failed connect or a lost
 * connection tries again after a {@link Backoff} delay, until {@code giveUp} says stop. It ends
 * every pipeline with a handler of its own that does this when the connection closes, and logs
 * and closes on an exception the session did not handle.
 */
public final class PeerConnector implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PeerConnector.class);

    private final String what;
    private final InetSocketAddress peer;
    private final Consumer<SocketChannel> init;
    private final BooleanSupplier giveUp;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Backoff backoff = new Backoff();
    private volatile boolean welcomed;
    private volatile io.tern.security.Transport transport = io.tern.security.Transport.plain();
    private volatile String expected;

    /** {@code what} names the connection in the log ("r0", "r0: full sync"). */
    public PeerConnector(String what, InetSocketAddress peer, Consumer<SocketChannel> init, BooleanSupplier giveUp) {
        this.what = what;
        this.peer = peer;
        this.init = init;
        this.giveUp = giveUp;
    }

    /**
     * Carries the next connections over {@code t}; with TLS the peer's certificate must name
     * {@code node}, or any member when {@code node} is {@code null}.
     */
    public PeerConnector transport(io.tern.security.Transport t, String node) {
        this.transport = t;
        this.expected = node;
        return this;
    }

    public InetSocketAddress peer() {
        return peer;
    }

    /** Connects now (from any thread). */
    public void connect() {
        if (giveUp.getAsBoolean()) {
            return;
        }
        welcomed = false;
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        transport.client(c, peer, expected);
                        init.accept(c);
                        c.pipeline().addLast(new Reconnect());
                    }
                })
                .connect(peer).addListener(f -> {
                    if (!f.isSuccess()) {
                        retryLater("cannot connect to " + peer + ": " + f.cause().getMessage());
                    }
                });
    }

    /** Connects again after the next backoff delay, unless giving up. */
    public void retryLater(String why) {
        if (giveUp.getAsBoolean()) {
            return;
        }
        long delay = backoff.nextDelayMillis();
        log.info("{}: {}; reconnecting in {} ms", what, why, delay);
        group.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
    }

    /** A session was welcomed: the next failure starts the backoff from its shortest delay. */
    public void welcomed() {
        welcomed(true);
    }

    /**
     * A session was welcomed; {@code resetBackoff} false when the session is expected to fail
     * again for a local reason (the caller cannot store what it receives), so retries keep
     * backing off.
     */
    public void welcomed(boolean resetBackoff) {
        welcomed = true;
        if (resetBackoff) {
            backoff.reset();
        }
    }

    /** Last in every pipeline: reconnects when the connection closes. */
    private final class Reconnect extends io.netty.channel.ChannelInboundHandlerAdapter {
        @Override
        public void channelInactive(io.netty.channel.ChannelHandlerContext ctx) {
            retryLater(welcomed ? "connection to " + peer + " lost" : "connection to " + peer + " closed before WELCOME");
        }

        @Override
        public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
            log.warn("{}: connection to {} failed: {}", what, peer, cause.toString());
            ctx.close();
        }
    }

    /** Runs a task on the connector's event loop. */
    public void execute(Runnable task) {
        group.execute(task);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
