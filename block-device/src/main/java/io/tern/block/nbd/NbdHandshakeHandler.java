package io.tern.block.nbd;

import java.nio.charset.StandardCharsets;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.tern.block.net.FailFastDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fixed-newstyle handshake of one connection: greeting, client flags, then options until
 * the client enters transmission (GO or EXPORT_NAME) or leaves (ABORT). Supports EXPORT_NAME,
 * INFO, GO, LIST, ABORT and STRUCTURED_REPLY, and STARTTLS when the server has TLS
 * ({@link NbdServerConfig#tls}); any other option is answered with ERR_UNSUP. A server with TLS
 * requires it: until STARTTLS every option but ABORT is answered with ERR_TLS_REQD, and
 * EXPORT_NAME (which has no error reply) is a disconnect. Every length is bounded; a client that breaks the protocol (bad magic,
 * unknown client flags, an option longer than {@link Nbd#MAX_OPTION_LENGTH}) is disconnected.
 *
 * <p>Thread contract: one instance per connection, on its event loop.
 */
final class NbdHandshakeHandler extends FailFastDecoder {
    private static final Logger log = LoggerFactory.getLogger(NbdHandshakeHandler.class);

    private enum State { CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, DONE }

    private final NbdExports exports;
    private final NbdServerConfig config;
    private State state = State.CLIENT_FLAGS;
    private boolean noZeroes;
    private boolean structured;
    private int option;
    private int optionLength;
    /** Whether this connection runs inside TLS (after STARTTLS). */
    private boolean tls;

    NbdHandshakeHandler(NbdExports exports, NbdServerConfig config) {
        this.exports = exports;
        this.config = config;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ByteBuf greeting = ctx.alloc().buffer(18);
        greeting.writeLong(Nbd.NBDMAGIC).writeLong(Nbd.IHAVEOPT).writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        ctx.writeAndFlush(greeting);
        super.channelActive(ctx);
    }

    @Override
    protected void decodeChecked(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (state != State.DONE && ctx.channel().isActive()) {
            switch (state) {
                case CLIENT_FLAGS -> {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    int flags = in.readInt();
                    if ((flags & ~(Nbd.CLIENT_FLAG_FIXED_NEWSTYLE | Nbd.CLIENT_FLAG_NO_ZEROES)) != 0) {
                        throw new NbdProtocolException("unknown client flags 0x" + Integer.toHexString(flags));
                    }
                    noZeroes = (flags & Nbd.CLIENT_FLAG_NO_ZEROES) != 0;
                    state = State.OPTION_HEADER;
                }
                case OPTION_HEADER -> {
                    if (in.readableBytes() < 16) {
                        return;
                    }
                    long magic = in.readLong();
                    if (magic != Nbd.IHAVEOPT) {
                        throw new NbdProtocolException("bad option magic 0x" + Long.toHexString(magic));
                    }
                    option = in.readInt();
                    long length = in.readUnsignedInt();
                    if (length > Nbd.MAX_OPTION_LENGTH) {
                        throw new NbdProtocolException("option " + option + " of " + length + " bytes is longer than "
                                + Nbd.MAX_OPTION_LENGTH);
                    }
                    optionLength = (int) length;
                    state = State.OPTION_DATA;
                }
                case OPTION_DATA -> {
                    if (in.readableBytes() < optionLength) {
                        return;
                    }
                    ByteBuf data = in.readSlice(optionLength);
                    state = State.OPTION_HEADER;
                    handleOption(ctx, data);
                }
                default -> throw new IllegalStateException(state.name());
            }
        }
    }

    private void handleOption(ChannelHandlerContext ctx, ByteBuf data) {
        if (config.tls() != null && !tls && option != Nbd.OPT_STARTTLS && option != Nbd.OPT_ABORT) {
            if (option == Nbd.OPT_EXPORT_NAME) {
                log.info("{}: EXPORT_NAME before STARTTLS on a server that requires TLS: closing",
                        ctx.channel().remoteAddress());
                state = State.DONE;
                ctx.close();
                return;
            }
            error(ctx, Nbd.REP_ERR_TLS_REQD, "this server requires TLS: STARTTLS first");
            return;
        }
        switch (option) {
            case Nbd.OPT_EXPORT_NAME -> exportName(ctx, data);
            case Nbd.OPT_ABORT -> {
                state = State.DONE;
                reply(ctx, Nbd.REP_ACK, null).addListener(ChannelFutureListener.CLOSE);
            }
            case Nbd.OPT_LIST -> {
                if (data.isReadable()) {
                    error(ctx, Nbd.REP_ERR_INVALID, "LIST takes no data");
                    return;
                }
                for (NbdExport e : exports.all()) {
                    byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                    ByteBuf b = ctx.alloc().buffer(4 + name.length).writeInt(name.length).writeBytes(name);
                    reply(ctx, Nbd.REP_SERVER, b);
                }
                reply(ctx, Nbd.REP_ACK, null);
            }
            case Nbd.OPT_STARTTLS -> startTls(ctx, data);
            case Nbd.OPT_STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    error(ctx, Nbd.REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
                    return;
                }
                structured = true;
                reply(ctx, Nbd.REP_ACK, null);
            }
            case Nbd.OPT_INFO, Nbd.OPT_GO -> infoOrGo(ctx, data, option == Nbd.OPT_GO);
            default -> error(ctx, Nbd.REP_ERR_UNSUP, "option " + option + " is not supported");
        }
    }

    /**
     * STARTTLS: ACK in the clear, then the TLS handshake on the same connection; the options
     * that follow come through it. A client that sent anything after STARTTLS before the ACK
     * broke the protocol (those bytes would be taken as plaintext inside TLS).
     */
    private void startTls(ChannelHandlerContext ctx, ByteBuf data) {
        if (config.tls() == null) {
            error(ctx, Nbd.REP_ERR_POLICY, "TLS is not enabled on this server");
            return;
        }
        if (tls) {
            error(ctx, Nbd.REP_ERR_INVALID, "TLS is on already");
            return;
        }
        if (data.isReadable()) {
            error(ctx, Nbd.REP_ERR_INVALID, "STARTTLS takes no data");
            return;
        }
        if (internalBuffer().isReadable()) {
            throw new NbdProtocolException("data after STARTTLS before its reply");
        }
        tls = true;
        io.netty.handler.ssl.SslHandler ssl = config.tls().get().newHandler(ctx.alloc());
        ssl.setHandshakeTimeout(10, java.util.concurrent.TimeUnit.SECONDS);
        // TLS goes first in the pipeline now, so the next byte read (the ClientHello) reaches it;
        // the ACK is written from its context, below it: in the clear. A server-side SslHandler
        // waits for the client to begin.
        ctx.pipeline().addFirst("nbd-tls", ssl);
        ssl.handshakeFuture().addListener(h -> {
            if (!h.isSuccess()) {
                log.info("{}: NBD TLS handshake failed: {}", ctx.channel().remoteAddress(),
                        h.cause() == null ? "?" : h.cause().getMessage());
                ctx.close();
            }
        });
        ByteBuf ack = ctx.alloc().buffer(20);
        ack.writeLong(Nbd.OPTION_REPLY_MAGIC).writeInt(option).writeInt(Nbd.REP_ACK).writeInt(0);
        ctx.pipeline().context(ssl).writeAndFlush(ack);
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        String name = data.toString(StandardCharsets.UTF_8);
        NbdExport export = exports.find(name);
        if (export == null) {
            // EXPORT_NAME has no error reply: the protocol's answer is a hard disconnect.
            log.info("{}: no export '{}'; closing", ctx.channel().remoteAddress(), name);
            state = State.DONE;
            ctx.close();
            return;
        }
        ByteBuf b = ctx.alloc().buffer(noZeroes ? 10 : 134);
        b.writeLong(export.device().size()).writeShort(export.transmissionFlags());
        if (!noZeroes) {
            b.writeZero(124);
        }
        ctx.writeAndFlush(b);
        enterTransmission(ctx, export);
    }

    private void infoOrGo(ChannelHandlerContext ctx, ByteBuf data, boolean go) {
        if (data.readableBytes() < 6) {
            error(ctx, Nbd.REP_ERR_INVALID, "INFO/GO data too short");
            return;
        }
        long nameLength = data.readUnsignedInt();
        if (nameLength > Nbd.MAX_NAME_LENGTH || nameLength > data.readableBytes() - 2) {
            error(ctx, Nbd.REP_ERR_INVALID, "export name length " + nameLength + " does not fit the option");
            return;
        }
        String name = data.readSlice((int) nameLength).toString(StandardCharsets.UTF_8);
        int requests = data.readUnsignedShort();
        if (data.readableBytes() != 2 * requests) {
            error(ctx, Nbd.REP_ERR_INVALID, requests + " information requests do not match the option's length");
            return;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        boolean wantBlockSize = false;
        for (int i = 0; i < requests; i++) {
            switch (data.readUnsignedShort()) {
                case Nbd.INFO_NAME -> wantName = true;
                case Nbd.INFO_DESCRIPTION -> wantDescription = true;
                case Nbd.INFO_BLOCK_SIZE -> wantBlockSize = true;
                default -> {
                    // unknown or EXPORT (always sent): nothing more to send
                }
            }
        }
        NbdExport export = exports.find(name);
        if (export == null) {
            error(ctx, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        reply(ctx, Nbd.REP_INFO, ctx.alloc().buffer(12).writeShort(Nbd.INFO_EXPORT)
                .writeLong(export.device().size()).writeShort(export.transmissionFlags()));
        if (wantName) {
            byte[] n = export.name().getBytes(StandardCharsets.UTF_8);
            reply(ctx, Nbd.REP_INFO, ctx.alloc().buffer(2 + n.length).writeShort(Nbd.INFO_NAME).writeBytes(n));
        }
        if (wantDescription) {
            byte[] d = export.description().getBytes(StandardCharsets.UTF_8);
            reply(ctx, Nbd.REP_INFO, ctx.alloc().buffer(2 + d.length).writeShort(Nbd.INFO_DESCRIPTION).writeBytes(d));
        }
        if (wantBlockSize) {
            reply(ctx, Nbd.REP_INFO, ctx.alloc().buffer(14).writeShort(Nbd.INFO_BLOCK_SIZE)
                    .writeInt(1).writeInt(Nbd.PREFERRED_BLOCK).writeInt(config.maxPayload()));
        }
        reply(ctx, Nbd.REP_ACK, null);
        if (go) {
            enterTransmission(ctx, export);
        }
    }

    private void enterTransmission(ChannelHandlerContext ctx, NbdExport export) {
        state = State.DONE;
        log.debug("{}: transmission on export '{}' (structured replies: {})", ctx.channel().remoteAddress(),
                export.name(), structured);
        ctx.pipeline().addAfter(ctx.name(), "nbd-requests", new NbdRequestDecoder(config.maxPayload()));
        ctx.pipeline().addAfter("nbd-requests", "nbd-transmission", new NbdTransmissionHandler(export, structured, config));
        ctx.pipeline().remove(this); // bytes already received are handed on to the request decoder
    }

    private io.netty.channel.ChannelFuture reply(ChannelHandlerContext ctx, int type, ByteBuf data) {
        int length = data == null ? 0 : data.readableBytes();
        ByteBuf header = ctx.alloc().buffer(20);
        header.writeLong(Nbd.OPTION_REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(length);
        if (data == null) {
            return ctx.writeAndFlush(header);
        }
        ctx.write(header);
        return ctx.writeAndFlush(data);
    }

    private void error(ChannelHandlerContext ctx, int type, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        reply(ctx, type, ctx.alloc().buffer(m.length).writeBytes(m));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        NbdServer.protocolError(ctx, cause);
    }
}
