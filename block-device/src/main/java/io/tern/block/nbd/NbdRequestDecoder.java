package io.tern.block.nbd;

import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.tern.block.net.FailFastDecoder;

/**
 * Decodes transmission-phase requests:
 * <pre>
 *  +-----------+---------+--------+-----------+-----------+-----------+------------------+
 *  | magic 4   | flags 2 | type 2 | handle 8  | offset 8  | length 4  | data (WRITE)     |
 *  | 25609513  |         |        |           | unsigned  | unsigned  | length bytes     |
 *  +-----------+---------+--------+-----------+-----------+-----------+------------------+
 * </pre>
 * A bad magic closes the connection. A WRITE longer than the maximum payload is never held in
 * memory: its data is skipped as it arrives and the request is passed on marked oversized, to be
 * answered with an error.
 */
final class NbdRequestDecoder extends FailFastDecoder {
    private static final int HEADER = 28;

    private final int maxPayload;
    private NbdRequest pendingWrite;
    private long discard;

    NbdRequestDecoder(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    @Override
    protected void decodeChecked(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            if (discard > 0) {
                int n = (int) Math.min(discard, in.readableBytes());
                in.skipBytes(n);
                discard -= n;
                if (discard > 0) {
                    return;
                }
            }
            if (pendingWrite != null) {
                if (in.readableBytes() < pendingWrite.length()) {
                    return;
                }
                NbdRequest r = pendingWrite;
                pendingWrite = null;
                out.add(new NbdRequest(r.flags(), r.type(), r.handle(), r.offset(), r.length(),
                        in.readRetainedSlice((int) r.length()), false));
                continue;
            }
            if (in.readableBytes() < HEADER) {
                return;
            }
            int magic = in.readInt();
            if (magic != Nbd.REQUEST_MAGIC) {
                throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic));
            }
            int flags = in.readUnsignedShort();
            int type = in.readUnsignedShort();
            long handle = in.readLong();
            long offset = in.readLong();
            long length = in.readUnsignedInt();
            if (type != Nbd.CMD_WRITE) {
                out.add(new NbdRequest(flags, type, handle, offset, length, null, false));
            } else if (length > maxPayload) {
                discard = length;
                out.add(new NbdRequest(flags, type, handle, offset, length, null, true));
            } else {
                pendingWrite = new NbdRequest(flags, type, handle, offset, length, null, false);
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        NbdServer.protocolError(ctx, cause);
    }
}
