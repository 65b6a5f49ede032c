package io.tern.block.nbd;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;

/**
 * Serves the requests of one connection against one export. Requests run concurrently and are
 * replied as they complete, in any order. Replies to READ are structured (one OFFSET_DATA chunk,
 * or an ERROR chunk with a message) when the client negotiated structured replies, simple
 * otherwise; other replies are simple on success, structured errors when negotiated.
 *
 * <p>Memory is bounded: while more than {@link NbdServerConfig#maxInFlightBytes()} of request
 * data is held by requests in flight, the connection stops reading from its socket.
 *
 * <p>Thread contract: requests arrive on the connection's event loop; completions come from the
 * device's threads and only write to the channel (which Netty hands to the event loop).
 */
final class NbdTransmissionHandler extends SimpleChannelInboundHandler<NbdRequest> {
    private final NbdExport export;
    private final BlockDevice device;
    private final boolean structured;
    private final NbdServerConfig config;
    private final AtomicLong inFlightBytes = new AtomicLong();
    private ChannelHandlerContext ctx;

    NbdTransmissionHandler(NbdExport export, boolean structured, NbdServerConfig config) {
        super(false); // request payloads are released when their request completes
        this.export = export;
        this.device = export.device();
        this.structured = structured;
        this.config = config;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, NbdRequest r) {
        switch (r.type()) {
            case Nbd.CMD_READ -> read(r);
            case Nbd.CMD_WRITE -> write(r);
            case Nbd.CMD_FLUSH -> complete(r, device.flush());
            case Nbd.CMD_TRIM -> {
                if (checkRange(r, true)) {
                    complete(r, device.trim(r.offset(), r.length(), r.fua()));
                }
            }
            case Nbd.CMD_WRITE_ZEROES -> {
                if (checkRange(r, true)) {
                    complete(r, device.writeZeroes(r.offset(), r.length(), r.fua()));
                }
            }
            case Nbd.CMD_DISC -> ctx.close();
            default -> replyError(r, BlockError.EINVAL, "unknown command " + r.type());
        }
    }

    private void read(NbdRequest r) {
        if (r.length() > config.maxPayload()) {
            replyError(r, BlockError.EINVAL, "read of " + r.length() + " bytes exceeds the maximum " + config.maxPayload());
            return;
        }
        if (!checkRange(r, false)) {
            return;
        }
        int length = (int) r.length();
        ByteBuf buf = ctx.alloc().directBuffer(length);
        hold(length);
        CompletableFuture<Void> f;
        try {
            f = device.read(r.offset(), buf.nioBuffer(0, length));
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, error) -> {
            release(length);
            if (error != null) {
                buf.release();
                replyError(r, BlockDeviceException.errorOf(error), String.valueOf(error.getMessage()));
                return;
            }
            buf.writerIndex(length);
            if (structured) {
                ByteBuf h = ctx.alloc().buffer(28);
                h.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(Nbd.REPLY_FLAG_DONE)
                        .writeShort(Nbd.REPLY_TYPE_OFFSET_DATA).writeLong(r.handle()).writeInt(8 + length)
                        .writeLong(r.offset());
                ctx.write(h);
            } else {
                ctx.write(simpleHeader(r.handle(), 0));
            }
            ctx.writeAndFlush(buf);
        });
    }

    private void write(NbdRequest r) {
        if (r.oversized()) {
            replyError(r, BlockError.EINVAL, "write of " + r.length() + " bytes exceeds the maximum " + config.maxPayload());
            return;
        }
        ByteBuf data = r.data();
        if (!checkRange(r, true)) {
            data.release();
            return;
        }
        int length = data.readableBytes();
        hold(length);
        CompletableFuture<Void> f;
        try {
            f = device.write(r.offset(), data.nioBuffer(), r.fua());
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, error) -> {
            data.release();
            release(length);
            reply(r, error);
        });
    }

    /** Checks the request's range; replies the error and returns false if it is outside the device. */
    private boolean checkRange(NbdRequest r, boolean write) {
        // offset is unsigned on the wire: a negative long is past any device.
        try {
            BlockDevice.checkRange(r.offset() < 0 ? Long.MAX_VALUE : r.offset(), r.length(), device.size(), write);
            return true;
        } catch (BlockDeviceException e) {
            replyError(r, e.error(), e.getMessage());
            return false;
        }
    }

    private void complete(NbdRequest r, CompletableFuture<Void> f) {
        f.whenComplete((v, error) -> reply(r, error));
    }

    private void reply(NbdRequest r, Throwable error) {
        if (error == null) {
            ctx.writeAndFlush(simpleHeader(r.handle(), 0));
        } else {
            replyError(r, BlockDeviceException.errorOf(error), String.valueOf(error.getMessage()));
        }
    }

    private void replyError(NbdRequest r, BlockError error, String message) {
        if (!structured) {
            ctx.writeAndFlush(simpleHeader(r.handle(), error.errno()));
            return;
        }
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(m.length, 4096);
        ByteBuf b = ctx.alloc().buffer(20 + 6 + len);
        b.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(Nbd.REPLY_FLAG_DONE).writeShort(Nbd.REPLY_TYPE_ERROR)
                .writeLong(r.handle()).writeInt(6 + len).writeInt(error.errno()).writeShort(len).writeBytes(m, 0, len);
        ctx.writeAndFlush(b);
    }

    private ByteBuf simpleHeader(long handle, int error) {
        return ctx.alloc().buffer(16).writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(handle);
    }

    private void hold(long bytes) {
        if (inFlightBytes.addAndGet(bytes) > config.maxInFlightBytes()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void release(long bytes) {
        if (inFlightBytes.addAndGet(-bytes) <= config.maxInFlightBytes() / 2 && !ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        NbdServer.protocolError(ctx, cause);
    }
}
