package io.tern.block;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A block device, in the spirit of nbdkit's plugin table: a size, five operations and the
 * capabilities a client may rely on. Offsets and lengths are in bytes; a request must lie inside
 * {@code [0, size())} or it fails with {@link BlockError#EINVAL} (reads) or
 * {@link BlockError#ENOSPC} (writes) and changes nothing.
 *
 * <p>Operations complete their future when done; a failure completes it exceptionally with a
 * {@link BlockDeviceException}. A write with {@code fua} completes only once durable; a
 * completed {@link #flush()} means every write completed before it was called is durable.
 * Buffers passed in belong to the device until the future completes.
 *
 * <p>Implementations are thread-safe: any number of requests may be in flight at once.
 */
public interface BlockDevice extends AutoCloseable {
    /** Largest read or write one request may carry. */
    int MAX_REQUEST = 32 << 20;

    long size();

    boolean isReadOnly();

    /** Whether {@link #flush()} does anything (false: writes are durable when completed anyway). */
    boolean canFlush();

    boolean canFua();

    boolean canTrim();

    boolean canZero();

    /** Whether a flush on one connection covers writes completed on every connection. */
    boolean canMultiConn();

    /** Fills {@code dst}'s remaining bytes from {@code offset}. */
    CompletableFuture<Void> read(long offset, ByteBuffer dst);

    /** Writes {@code src}'s remaining bytes at {@code offset}. */
    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua);

    CompletableFuture<Void> flush();

    /** The range's content may be discarded; reads of it return zeros here. */
    CompletableFuture<Void> trim(long offset, long length, boolean fua);

    /** The range reads as zeros afterwards. */
    CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua);

    @Override
    void close();

    /**
     * Checks that {@code [offset, offset + length)} lies inside a device of {@code size} bytes.
     *
     * @throws BlockDeviceException EINVAL for a read, ENOSPC for a write past the end
     */
    static void checkRange(long offset, long length, long size, boolean write) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new BlockDeviceException(write && offset >= 0 && length >= 0 ? BlockError.ENOSPC : BlockError.EINVAL,
                    "request offset " + offset + " length " + length + " is outside the device of " + size + " bytes");
        }
    }
}
