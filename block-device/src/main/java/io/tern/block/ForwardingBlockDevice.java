package io.tern.block;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A device that passes everything to the device it wraps: the base of decorators, which
 * override only what they change (as nbdkit filters do).
 */
public abstract class ForwardingBlockDevice implements BlockDevice {
    protected final BlockDevice inner;

    protected ForwardingBlockDevice(BlockDevice inner) {
        this.inner = inner;
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public boolean canFlush() {
        return inner.canFlush();
    }

    @Override
    public boolean canFua() {
        return inner.canFua();
    }

    @Override
    public boolean canTrim() {
        return inner.canTrim();
    }

    @Override
    public boolean canZero() {
        return inner.canZero();
    }

    @Override
    public boolean canMultiConn() {
        return inner.canMultiConn();
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return inner.read(offset, dst);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return inner.write(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return inner.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return inner.trim(offset, length, fua);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        return inner.writeZeroes(offset, length, fua);
    }

    @Override
    public void close() {
        inner.close();
    }
}
