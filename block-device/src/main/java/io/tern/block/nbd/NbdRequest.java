package io.tern.block.nbd;

import io.netty.buffer.ByteBuf;

/**
 * One transmission-phase request. {@code data} is the WRITE payload (retained; the handler
 * releases it) or {@code null}. {@code oversized} marks a WRITE whose payload exceeded the
 * maximum and was discarded unread.
 */
record NbdRequest(int flags, int type, long handle, long offset, long length, ByteBuf data, boolean oversized) {
    boolean fua() {
        return (flags & Nbd.CMD_FLAG_FUA) != 0;
    }
}
