package io.tern.replication.protocol;

import io.netty.buffer.ByteBuf;

/**
 * A decoded frame: its type, flags and payload. The payload is a retained buffer the receiver
 * must {@link #release()} once handled.
 */
public record Frame(MessageType type, int flags, ByteBuf payload) {
    public void release() {
        payload.release();
    }
}
