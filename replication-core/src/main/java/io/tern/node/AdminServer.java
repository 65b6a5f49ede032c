package io.tern.node;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's admin endpoint: HTTP/1.1 on Netty's codec. Requests are small (a line, headers, no
 * body to speak of) and bounded; each is answered by a {@link Handler} on a small worker pool,
 * never on the I/O thread, so a handover or a verify that takes minutes holds up nothing but its
 * own connection, while status and metrics keep answering. A connection reads its next request
 * only once the last one is answered, so answers keep the order of requests. When every worker
 * is busy and the backlog is full, a request gets 503 at once. Anything but GET and HEAD
 * changes the node and must carry its admin token ({@code Authorization: Bearer TOKEN}, the
 * token from the home's {@code admin.token}); without it the answer is 401 and nothing runs.
 */
final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    static final int MAX_LINE = 4096;
    static final int MAX_HEADERS = 8192;
    static final int MAX_BODY = 64 << 10;
    static final int WORKERS = 4;
    static final int BACKLOG = 64;
    static final int IDLE_SECONDS = 120;

    /** A request: method, decoded path, query parameters (decoded; a flag without a value maps to ""). */
    record Request(String method, String path, String rawQuery, Map<String, List<String>> query) {
        boolean has(String key) {
            return query.containsKey(key);
        }

        /** The first value of a parameter, or {@code null}. */
        String param(String key) {
            List<String> v = query.get(key);
            return v == null || v.isEmpty() ? null : v.get(0);
        }
    }

    /** An answer. */
    record Response(int code, String contentType, byte[] body) {
        static Response text(int code, String body) {
            return new Response(code, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
        }

        static Response json(int code, String body) {
            return new Response(code, "application/json", body.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Answers the requests of one route; runs on a worker thread and may take long. */
    @FunctionalInterface
    interface Handler {
        Response handle(Request request) throws Exception;
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final ThreadPoolExecutor workers;
    private final byte[] token;
    private final Channel channel;

    private AdminServer(InetSocketAddress address, Map<String, Handler> routes, String token)
            throws InterruptedException {
        this.token = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        AtomicInteger n = new AtomicInteger();
        workers = new ThreadPoolExecutor(WORKERS, WORKERS, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(BACKLOG), r -> {
            Thread t = new Thread(r, "tern-admin-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    // a restart after kill -9 binds its fixed port again while the last clients' connections linger
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS),
                                    new HttpServerCodec(MAX_LINE, MAX_HEADERS, 8192),
                                    new HttpObjectAggregator(MAX_BODY),
                                    new Dispatch(routes));
                        }
                    })
                    .bind(address).sync().channel();
        } catch (RuntimeException | InterruptedException e) {
            close();
            throw e;
        }
    }

    /**
     * Binds the endpoint. {@code routes} maps a path's first segment ({@code status} for
     * {@code /status/r0}) to its handler; other paths get 404. Calls that are not GET or HEAD
     * need {@code token}.
     */
    static AdminServer start(InetSocketAddress address, Map<String, Handler> routes, String token)
            throws InterruptedException {
        return new AdminServer(address, Map.copyOf(routes), token);
    }

    private boolean authorized(FullHttpRequest msg) {
        String method = msg.method().name();
        if (method.equals("GET") || method.equals("HEAD")) {
            return true;
        }
        String given = msg.headers().get(HttpHeaderNames.AUTHORIZATION);
        return given != null && java.security.MessageDigest.isEqual(token, given.getBytes(StandardCharsets.UTF_8));
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        workers.shutdownNow();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    private final class Dispatch extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Map<String, Handler> routes;
        /** A request of this connection is being answered: the idle timer leaves it alone. */
        private volatile boolean busy;

        Dispatch(Map<String, Handler> routes) {
            this.routes = routes;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest msg) {
            boolean keepAlive = HttpUtil.isKeepAlive(msg);
            if (!msg.decoderResult().isSuccess()) {
                send(ctx, Response.text(400, "bad request: " + msg.decoderResult().cause().getMessage() + "\n"), false);
                return;
            }
            QueryStringDecoder uri = new QueryStringDecoder(msg.uri());
            String path = uri.path();
            int q = msg.uri().indexOf('?');
            Request request = new Request(msg.method().name(), path, q < 0 ? null : msg.uri().substring(q + 1),
                    uri.parameters());
            String[] parts = path.split("/", 3);
            Handler handler = parts.length > 1 ? routes.get(parts[1]) : null;
            if (handler == null) {
                send(ctx, Response.text(404, "not found: " + path + "\n"), keepAlive);
                return;
            }
            if (!authorized(msg)) {
                send(ctx, Response.text(401, "this call changes the node and needs its admin token (Authorization: "
                        + "Bearer, from admin.token in the node's home; the tern command sends it)\n"), keepAlive);
                return;
            }
            ctx.channel().config().setAutoRead(false); // one request at a time per connection: answers in order
            busy = true;
            try {
                workers.execute(() -> {
                    Response r;
                    try {
                        r = handler.handle(request);
                    } catch (Exception | Error e) {
                        log.error("admin {} {} failed: {}", request.method(), request.path(), e.toString(), e);
                        r = Response.text(500, "internal error: " + e + "\n");
                    }
                    Response answer = r;
                    ctx.executor().execute(() -> {
                        busy = false;
                        send(ctx, answer, keepAlive);
                        ctx.channel().config().setAutoRead(true);
                    });
                });
            } catch (RejectedExecutionException full) {
                busy = false;
                ctx.channel().config().setAutoRead(true);
                send(ctx, Response.text(503, "the admin endpoint is busy; try again\n"), false);
            }
        }

        private void send(ChannelHandlerContext ctx, Response r, boolean keepAlive) {
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.code()),
                    Unpooled.wrappedBuffer(r.body()));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length);
            if (keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(res);
            } else {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent && !busy) {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("admin connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
