package io.tern.block.fault;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.tern.block.BlockDevice;
import io.tern.block.ForwardingBlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;

/**
 * A decorator that injects the faults of a {@link FaultPlan} — I/O errors, a full disk, delays —
 * into the device it wraps, like nbdkit's {@code error} and {@code delay} filters. A failed
 * operation never reaches the wrapped device. For tests and fault drills.
 */
public final class FaultInjectingDevice extends ForwardingBlockDevice {
    private final FaultPlan plan;

    public FaultInjectingDevice(BlockDevice inner, FaultPlan plan) {
        super(inner);
        this.plan = plan;
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return run(plan.readError(), "read", offset, () -> inner.read(offset, dst));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return run(plan.nextWriteError(), "write", offset, () -> inner.write(offset, src, fua));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return run(plan.flushError(), "flush", 0, inner::flush);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return run(plan.nextWriteError(), "trim", offset, () -> inner.trim(offset, length, fua));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        return run(plan.nextWriteError(), "zero", offset, () -> inner.writeZeroes(offset, length, fua));
    }

    private CompletableFuture<Void> run(BlockError error, String op, long offset, Supplier<CompletableFuture<Void>> call) {
        long delay = plan.delayMillis();
        Supplier<CompletableFuture<Void>> action = () -> error != null
                ? CompletableFuture.failedFuture(new BlockDeviceException(error, "injected " + error + " on " + op + " at " + offset))
                : call.get();
        if (delay <= 0) {
            return action.get();
        }
        return CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS))
                .thenCompose(x -> action.get());
    }

}
