package io.tern.block.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;

/**
 * Serves the requests of one connection against one export. Requests run concurrently and are
 * replied as they complete, in any order. Replies to READ are structured (one OFFSET_DATA chunk,
 * or an ERROR chunk with a message) when the client negotiated structured replies, simple
 * otherwise; other replies are simple on success, structured errors when negotiated.
 *
 * <p>Memory and work are bounded: every request holds its cost (a WRITE's payload, a READ's
 * reply buffer, at least {@link NbdServerConfig#MIN_REQUEST_COST} for any request) from its
 * arrival until its reply has been written to the socket. A request that would take the
 * connection past {@link NbdServerConfig#maxInFlightBytes()} waits in a queue, unallocated, and
 * the connection stops reading its socket until replies drain — so a client that sends reads and
 * never reads the replies holds at most that much, and one that floods FLUSH or WRITE_ZEROES has
 * at most {@code maxInFlightBytes / MIN_REQUEST_COST} of them at the device.
 *
 * <p>NBD_CMD_DISC: requests received before it are completed and replied, later ones ignored,
 * then the connection is closed.
 *
 * <p>Thread contract: requests arrive, replies are written and their writes complete on the
 * connection's event loop, which owns the accounting fields; device completions, on whatever
 * thread completes them, hand the reply back to the loop (which also keeps a reply's header and
 * data together on the socket). The loop never blocks: READ, FLUSH, TRIM and WRITE_ZEROES call
 * the device on the server's I/O executor ({@link #IO_EXECUTOR}), since a file device does its
 * pread, fdatasync or fallocate on the calling thread. WRITE calls the device on the loop: a
 * logged device only hands the payload to its ring there and never blocks its caller.
 */
final class NbdTransmissionHandler extends SimpleChannelInboundHandler<NbdRequest> {
    /** The server's executor for device calls that may block, set on every connection by {@link NbdServer}. */
    static final AttributeKey<Executor> IO_EXECUTOR = AttributeKey.valueOf(NbdTransmissionHandler.class, "io");

    private final BlockDevice device;
    private final boolean structured;
    private final NbdServerConfig config;
    private final ArrayDeque<NbdRequest> waiting = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Executor io;
    private long held;
    private int inFlight;
    private boolean disconnecting;

    NbdTransmissionHandler(NbdExport export, boolean structured, NbdServerConfig config) {
        super(false); // request payloads are released when their request completes
        this.device = export.device();
        this.structured = structured;
        this.config = config;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.io = ctx.channel().attr(IO_EXECUTOR).get();
        if (io == null) {
            throw new IllegalStateException("channel " + ctx.channel() + " has no NBD I/O executor: only NbdServer sets up"
                    + " transmission");
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, NbdRequest r) {
        if (disconnecting) {
            release(r); // sent after DISC: ignored
            return;
        }
        if (r.type() == Nbd.CMD_DISC) {
            disconnecting = true;
            ctx.channel().config().setAutoRead(false);
            closeIfDone();
            return;
        }
        long cost = cost(r);
        if (!waiting.isEmpty() || (inFlight > 0 && held + cost > config.maxInFlightBytes())) {
            waiting.add(r);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        start(r, cost);
    }

    /** What a request holds of the connection's budget while in flight: its data, at least the minimum. */
    private long cost(NbdRequest r) {
        long bytes;
        if (r.type() == Nbd.CMD_READ) {
            bytes = Math.min(r.length(), config.maxPayload());
        } else {
            bytes = r.data() == null ? 0 : r.data().readableBytes();
        }
        return Math.max(bytes, NbdServerConfig.MIN_REQUEST_COST);
    }

    private void start(NbdRequest r, long cost) {
        held += cost;
        inFlight++;
        switch (r.type()) {
            case Nbd.CMD_READ -> read(r, cost);
            case Nbd.CMD_WRITE -> write(r, cost);
            case Nbd.CMD_FLUSH -> complete(r, cost, offLoop(device::flush));
            case Nbd.CMD_TRIM -> {
                if (checkRange(r, cost, true)) {
                    complete(r, cost, offLoop(() -> device.trim(r.offset(), r.length(), r.fua())));
                }
            }
            case Nbd.CMD_WRITE_ZEROES -> {
                if (checkRange(r, cost, true)) {
                    complete(r, cost, offLoop(() -> device.writeZeroes(r.offset(), r.length(), r.fua())));
                }
            }
            default -> replyError(r, cost, BlockError.EINVAL, "unknown command " + r.type());
        }
    }

    private void read(NbdRequest r, long cost) {
        if (r.length() > config.maxPayload()) {
            replyError(r, cost, BlockError.EINVAL, "read of " + r.length() + " bytes exceeds the maximum " + config.maxPayload());
            return;
        }
        if (!checkRange(r, cost, false)) {
            return;
        }
        int length = (int) r.length();
        if (length == 0) {
            if (structured) { // OFFSET_DATA needs at least one byte: an empty read is a NONE chunk
                send(cost, ctx.alloc().buffer(20).writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(Nbd.REPLY_FLAG_DONE)
                        .writeShort(Nbd.REPLY_TYPE_NONE).writeLong(r.handle()).writeInt(0), null);
            } else {
                send(cost, simpleHeader(r.handle(), 0), null);
            }
            return;
        }
        ByteBuf buf = ctx.alloc().directBuffer(length);
        ByteBuffer dst = buf.nioBuffer(0, length);
        offLoop(() -> device.read(r.offset(), dst)).whenComplete((v, error) -> onLoop(() -> {
            if (error != null) {
                buf.release();
                replyError(r, cost, BlockDeviceException.errorOf(error), String.valueOf(error.getMessage()));
                return;
            }
            buf.writerIndex(length);
            ByteBuf header;
            if (structured) {
                header = ctx.alloc().buffer(28).writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(Nbd.REPLY_FLAG_DONE)
                        .writeShort(Nbd.REPLY_TYPE_OFFSET_DATA).writeLong(r.handle()).writeInt(8 + length)
                        .writeLong(r.offset());
            } else {
                header = simpleHeader(r.handle(), 0);
            }
            send(cost, header, buf);
        }, buf));
    }

    /**
     * Calls the device on the I/O executor, so a device that does its disk I/O on the calling
     * thread never does it on the event loop. The result completes on the device's thread.
     */
    private CompletableFuture<Void> offLoop(Supplier<CompletableFuture<Void>> call) {
        CompletableFuture<Void> result = new CompletableFuture<>();
        try {
            io.execute(() -> {
                CompletableFuture<Void> f;
                try {
                    f = call.get();
                } catch (RuntimeException e) {
                    f = CompletableFuture.failedFuture(e);
                }
                f.whenComplete((v, error) -> {
                    if (error == null) {
                        result.complete(null);
                    } else {
                        result.completeExceptionally(error);
                    }
                });
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new BlockDeviceException(BlockError.ESHUTDOWN,
                    "the NBD server is shutting down; reconnect once it is back"));
        }
        return result;
    }

    /**
     * Runs {@code task} on the connection's event loop. If the loop is gone (the server closed),
     * there is no one to reply to: {@code owned}, a buffer the task would have sent, is released.
     */
    private void onLoop(Runnable task, ByteBuf owned) {
        EventExecutor loop = ctx.executor();
        if (loop.inEventLoop()) {
            task.run();
            return;
        }
        try {
            loop.execute(task);
        } catch (RejectedExecutionException e) {
            if (owned != null) {
                owned.release();
            }
        }
    }

    private void write(NbdRequest r, long cost) {
        if (r.oversized()) {
            replyError(r, cost, BlockError.EINVAL, "write of " + r.length() + " bytes exceeds the maximum " + config.maxPayload());
            return;
        }
        ByteBuf data = r.data();
        if (!checkRange(r, cost, true)) {
            data.release();
            return;
        }
        CompletableFuture<Void> f;
        try {
            f = device.write(r.offset(), data.nioBuffer(), r.fua());
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, error) -> {
            data.release();
            onLoop(() -> reply(r, cost, error), null);
        });
    }

    /** Checks the request's range; replies the error and returns false if it is outside the device. */
    private boolean checkRange(NbdRequest r, long cost, boolean write) {
        // offset is unsigned on the wire: a negative long is past any device.
        try {
            BlockDevice.checkRange(r.offset() < 0 ? Long.MAX_VALUE : r.offset(), r.length(), device.size(), write);
            return true;
        } catch (BlockDeviceException e) {
            replyError(r, cost, e.error(), e.getMessage());
            return false;
        }
    }

    private void complete(NbdRequest r, long cost, CompletableFuture<Void> f) {
        f.whenComplete((v, error) -> onLoop(() -> reply(r, cost, error), null));
    }

    private void reply(NbdRequest r, long cost, Throwable error) {
        if (error == null) {
            send(cost, simpleHeader(r.handle(), 0), null);
        } else {
            replyError(r, cost, BlockDeviceException.errorOf(error), String.valueOf(error.getMessage()));
        }
    }

    private void replyError(NbdRequest r, long cost, BlockError error, String message) {
        if (!structured) {
            send(cost, simpleHeader(r.handle(), error.errno()), null);
            return;
        }
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(m.length, 4096);
        while (len > 0 && len < m.length && (m[len] & 0xC0) == 0x80) {
            len--; // never cut a UTF-8 character in two
        }
        ByteBuf b = ctx.alloc().buffer(20 + 6 + len);
        b.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(Nbd.REPLY_FLAG_DONE).writeShort(Nbd.REPLY_TYPE_ERROR)
                .writeLong(r.handle()).writeInt(6 + len).writeInt(error.errno()).writeShort(len).writeBytes(m, 0, len);
        send(cost, b, null);
    }

    /**
     * On the event loop: writes a reply; once it is written (or the connection is gone) the
     * request stops holding its cost.
     */
    private void send(long cost, ByteBuf header, ByteBuf data) {
        if (data == null) {
            ctx.writeAndFlush(header).addListener(f -> done(cost));
        } else {
            ctx.write(header);
            ctx.writeAndFlush(data).addListener(f -> done(cost));
        }
    }

    /** On the event loop: a reply is out; start waiting requests that now fit, resume reading. */
    private void done(long cost) {
        held -= cost;
        inFlight--;
        while (!waiting.isEmpty() && (inFlight == 0 || held + cost(waiting.peek()) <= config.maxInFlightBytes())) {
            NbdRequest next = waiting.poll();
            start(next, cost(next));
        }
        if (waiting.isEmpty() && !disconnecting && held <= config.maxInFlightBytes() / 2
                && !ctx.channel().config().isAutoRead()) {
            ctx.channel().config().setAutoRead(true);
        }
        closeIfDone();
    }

    private void closeIfDone() {
        if (disconnecting && inFlight == 0 && waiting.isEmpty()) {
            ctx.close();
        }
    }

    private static void release(NbdRequest r) {
        if (r.data() != null) {
            r.data().release();
        }
    }

    private ByteBuf simpleHeader(long handle, int error) {
        return ctx.alloc().buffer(16).writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(handle);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        NbdRequest r;
        while ((r = waiting.poll()) != null) {
            release(r);
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        NbdServer.protocolError(ctx, cause);
    }
}
