package io.tern.block;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A read-only view of a device (a secondary's export): reads pass through; writes, zeroes and
 * trims fail with {@link BlockError#EPERM} and a message that says why.
 */
public final class ReadOnlyDevice extends ForwardingBlockDevice {
    private final String why;

    public ReadOnlyDevice(BlockDevice inner, String why) {
        super(inner);
        this.why = why;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public boolean canTrim() {
        return false;
    }

    @Override
    public boolean canZero() {
        return false;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return refused();
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        return refused();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return refused();
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.completedFuture(null);
    }

    private CompletableFuture<Void> refused() {
        return CompletableFuture.failedFuture(new BlockDeviceException(BlockError.EPERM, why));
    }
}
