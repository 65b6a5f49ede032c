package io.tern.replication.sync;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;

/** Asks a primary about a resource (HELLO in PROBE mode): what {@code tern join} needs before it creates anything. */
public final class Probe {
    private Probe() {
    }

    /**
     * The primary's WELCOME for {@code resource}.
     *
     * @throws IllegalStateException with the primary's reason if it refuses, or if it cannot be reached in time
     */
    public static Messages.Welcome ask(String clusterId, String resource, String node, InetSocketAddress primary,
                                       Duration timeout) throws InterruptedException {
        return ask(clusterId, resource, node, primary, timeout, io.tern.security.Transport.plain());
    }

    /** The same over {@code transport}: with TLS, a refused handshake reads as a closed connection. */
    public static Messages.Welcome ask(String clusterId, String resource, String node, InetSocketAddress primary,
                                       Duration timeout, io.tern.security.Transport transport) throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        CompletableFuture<Messages.Welcome> answer = new CompletableFuture<>();
        try {
            new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout.toMillis())
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            transport.client(c, primary, null);
                            c.pipeline().addLast(new FrameDecoder()).addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelActive(ChannelHandlerContext ctx) {
                                    FrameCodec.send(ctx, MessageType.HELLO, b -> Messages.encode(Messages.Hello.of(
                                            clusterId, resource, node, io.tern.replication.history.History.empty(), 0,
                                            Messages.Mode.PROBE, false), b));
                                }

                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    Frame f = (Frame) msg;
                                    try {
                                        if (f.type() == MessageType.WELCOME) {
                                            answer.complete(Messages.decodeWelcome(f.payload()));
                                        } else if (f.type() == MessageType.REJECT) {
                                            Messages.Reject r = Messages.decodeReject(f.payload());
                                            answer.completeExceptionally(new IllegalStateException(
                                                    primary + " refused: " + r.reason() + " (" + r.code() + ")"));
                                        } else {
                                            answer.completeExceptionally(new IllegalStateException(
                                                    primary + " answered " + f.type() + " to a probe"));
                                        }
                                    } catch (RuntimeException e) {
                                        answer.completeExceptionally(e);
                                    } finally {
                                        f.release();
                                        ctx.close();
                                    }
                                }

                                @Override
                                public void channelInactive(ChannelHandlerContext ctx) {
                                    answer.completeExceptionally(new IllegalStateException(primary + " closed the connection"
                                            + (transport.isTls() ? " (a refused certificate? see both logs)" : "")));
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    answer.completeExceptionally(cause instanceof io.netty.handler.codec.DecoderException
                                            && cause.getCause() instanceof javax.net.ssl.SSLException ssl
                                            ? new IllegalStateException("TLS with " + primary + " failed: a certificate "
                                                    + "was refused (another CA, expired, or not a member?): "
                                                    + ssl.getMessage(), ssl)
                                            : cause);
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .connect(primary).addListener(f -> {
                        if (!f.isSuccess()) {
                            answer.completeExceptionally(new IllegalStateException("cannot reach " + primary + ": "
                                    + f.cause().getMessage()));
                        }
                    });
            return answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IllegalStateException ise ? ise
                    : new IllegalStateException(String.valueOf(e.getCause().getMessage()), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException(primary + " did not answer within " + timeout.toMillis() + " ms");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
