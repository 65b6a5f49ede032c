package io.tern.proxy;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * A user-space TCP proxy that misbehaves on demand, for fault tests and benchmarks (there is no
 * netem here): one-way delay and a bandwidth cap per direction (together an emulated long link),
 * a cut (connections stay open, nothing passes; what was sent waits, as TCP would retransmit it
 * once the link is back), resets (RST of every open
 * connection) and corruption (flip one random bit in a chunk, with a probability, in the
 * direction from the target to the client).
 *
 * <p>Each chunk read from one side is released to the other at max(now + delay, the previous
 * release + its size / rate), so order is kept; while more than 4 MiB wait in one direction the
 * source stops reading (backpressure, as a real link's window would).
 *
 * <p>Thread contract: knobs may be turned from any thread; each connection pair lives on one
 * event loop.
 */
public final class FaultProxy implements AutoCloseable {
    private static final long HIGH_WATER = 4 << 20;
    private static final long LOW_WATER = 1 << 20;

    private final InetSocketAddress target;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final Map<Channel, Channel> pairs = new ConcurrentHashMap<>();
    private final java.util.Set<Pipe> pipes = ConcurrentHashMap.newKeySet();
    private final Random random;
    private final AtomicLong corrupted = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private volatile long delayNanos;
    private volatile long bytesPerSecond;
    private volatile boolean cut;
    private volatile double corruptProbability;

    public FaultProxy(InetSocketAddress listen, InetSocketAddress target, long seed) throws InterruptedException {
        this.target = target;
        this.random = new Random(seed);
        this.server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel client) {
                        accepted(client);
                    }
                })
                .bind(listen).sync().channel();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** One-way delay added in each direction. */
    public FaultProxy delay(long millis) {
        this.delayNanos = TimeUnit.MILLISECONDS.toNanos(millis);
        return this;
    }

    /** Bandwidth cap per direction, bytes per second; 0 for none. */
    public FaultProxy bandwidth(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
        return this;
    }

    /** While cut, nothing passes either way; connections stay open and what was sent waits. */
    public FaultProxy cut(boolean cut) {
        this.cut = cut;
        if (!cut) {
            for (Pipe p : pipes) {
                p.ctx.executor().execute(p::reopen);
            }
        }
        return this;
    }

    /** Probability that a chunk from the target to the client gets one bit flipped. */
    public FaultProxy corrupt(double probability) {
        this.corruptProbability = probability;
        return this;
    }

    /** Resets (RST) every open connection. */
    public void reset() {
        for (Channel c : pairs.keySet()) {
            c.eventLoop().execute(() -> {
                if (c.isActive()) {
                    c.config().setOption(ChannelOption.SO_LINGER, 0);
                    c.close();
                }
            });
        }
    }

    /** Chunks corrupted so far. */
    public long corrupted() {
        return corrupted.get();
    }

    /** Connections accepted so far. */
    public long connections() {
        return connections.get();
    }

    private void accepted(SocketChannel client) {
        connections.incrementAndGet();
        new Bootstrap().group(client.eventLoop()).channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel upstream) {
                        upstream.pipeline().addLast(new Pipe(client, true));
                    }
                })
                .connect(target).addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        client.close();
                        return;
                    }
                    Channel upstream = f.channel();
                    pairs.put(client, upstream);
                    pairs.put(upstream, client);
                    client.pipeline().addLast(new Pipe(upstream, false));
                    client.closeFuture().addListener(x -> {
                        pairs.remove(client);
                        upstream.close();
                    });
                    upstream.closeFuture().addListener(x -> {
                        pairs.remove(upstream);
                        client.close();
                    });
                    client.read();
                    upstream.read();
                });
    }

    /** Moves bytes read on its channel to {@code to}, with the faults of the moment. */
    private final class Pipe extends ChannelInboundHandlerAdapter {
        private final Channel to;
        private final boolean fromTarget;
        private final java.util.ArrayDeque<ByteBuf> held = new java.util.ArrayDeque<>();
        private ChannelHandlerContext ctx;
        private long nextRelease;
        private long waiting;

        Pipe(Channel to, boolean fromTarget) {
            this.to = to;
            this.fromTarget = fromTarget;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            pipes.add(this);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            pipes.remove(this);
            held.forEach(ByteBuf::release);
            held.clear();
            ctx.fireChannelInactive();
        }

        /** After a cut: passes on what waited and reads again. */
        void reopen() {
            while (!held.isEmpty() && !cut) {
                pass(held.poll());
            }
            if (!cut && ctx.channel().isActive()) {
                ctx.read();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            if (cut || !held.isEmpty()) {
                held.add(b); // no read until the link is back
                return;
            }
            pass(b);
        }

        private void pass(ByteBuf b) {
            int n = b.readableBytes();
            if (fromTarget && n > 0 && corruptProbability > 0) {
                synchronized (random) {
                    if (random.nextDouble() < corruptProbability) {
                        int i = b.readerIndex() + random.nextInt(n);
                        b.setByte(i, b.getByte(i) ^ (1 << random.nextInt(8)));
                        corrupted.incrementAndGet();
                    }
                }
            }
            long now = System.nanoTime();
            long rate = bytesPerSecond;
            long release = now + delayNanos;
            if (rate > 0) {
                release = Math.max(release, nextRelease + n * 1_000_000_000L / rate);
            }
            nextRelease = Math.max(release, now);
            waiting += n;
            long wait = release - now;
            Runnable send = () -> {
                waiting -= n;
                to.writeAndFlush(b);
                if (waiting < LOW_WATER && !ctx.channel().config().isAutoRead()) {
                    ctx.read();
                }
            };
            if (wait <= 0) {
                send.run();
            } else {
                ctx.executor().schedule(send, wait, TimeUnit.NANOSECONDS);
            }
            if (waiting < HIGH_WATER) {
                ctx.read();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        pairs.keySet().forEach(Channel::close);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
