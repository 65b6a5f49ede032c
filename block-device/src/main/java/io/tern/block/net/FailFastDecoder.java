package io.tern.block.net;

import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * A decoder that stops at the first violation: once {@link #decodeChecked} has thrown, everything
 * else that arrives on the connection is discarded unread (Netty would otherwise decode the same
 * bad bytes again when the connection closes, and report the violation twice).
 */
public abstract class FailFastDecoder extends ByteToMessageDecoder {
    private boolean failed;

    @Override
    protected final void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes()); // the connection is closing: never decode past a violation
            return;
        }
        try {
            decodeChecked(ctx, in, out);
        } catch (RuntimeException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    /** Decodes what {@code in} holds; throws on a protocol violation. */
    protected abstract void decodeChecked(ChannelHandlerContext ctx, ByteBuf in, List<Object> out);
}
