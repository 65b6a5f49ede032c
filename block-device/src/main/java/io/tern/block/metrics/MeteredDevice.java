package io.tern.block.metrics;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tern.block.BlockDevice;
import io.tern.block.ForwardingBlockDevice;
import io.tern.block.BlockDeviceException;

/**
 * A decorator that counts and times every operation of the device it wraps, tagged with the
 * resource name: {@code tern_block_requests_seconds} (a timer per op), {@code tern_block_bytes_total}
 * (bytes read and written) and {@code tern_block_errors_total} (per op and errno name). Every
 * change that succeeded (write, zero, trim, flush) is also timed in {@code tern_block_ack_seconds},
 * a histogram ({@link Buckets#LATENCY}): from the call to its completion, which is when the NBD
 * reply goes out. On a logged device in sync mode that is after the log's sync and the apply.
 */
public final class MeteredDevice extends ForwardingBlockDevice {
    private final MeterRegistry registry;
    private final String resource;
    private final Timer reads;
    private final Timer writes;
    private final Timer flushes;
    private final Timer trims;
    private final Timer zeroes;
    private final Timer writeAcks;
    private final Timer flushAcks;
    private final Timer trimAcks;
    private final Timer zeroAcks;
    private final Counter bytesRead;
    private final Counter bytesWritten;

    public MeteredDevice(BlockDevice inner, MeterRegistry registry, String resource) {
        super(inner);
        this.registry = registry;
        this.resource = resource;
        this.reads = timer("read");
        this.writes = timer("write");
        this.flushes = timer("flush");
        this.trims = timer("trim");
        this.zeroes = timer("zero");
        this.writeAcks = ack("write");
        this.flushAcks = ack("flush");
        this.trimAcks = ack("trim");
        this.zeroAcks = ack("zero");
        this.bytesRead = Counter.builder("tern.block.bytes").tag("resource", resource).tag("op", "read").register(registry);
        this.bytesWritten = Counter.builder("tern.block.bytes").tag("resource", resource).tag("op", "write").register(registry);
    }

    private Timer timer(String op) {
        return Timer.builder("tern.block.requests").tag("resource", resource).tag("op", op)
                .description("block requests served, by operation").register(registry);
    }

    private Timer ack(String op) {
        return Timer.builder("tern.block.ack").tag("resource", resource).tag("op", op)
                .description("time to acknowledge a change that succeeded (histogram)")
                .serviceLevelObjectives(Buckets.LATENCY).register(registry);
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        int n = dst.remaining();
        return measure(reads, null, "read", () -> inner.read(offset, dst), bytesRead, n);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int n = src.remaining();
        return measure(writes, writeAcks, "write", () -> inner.write(offset, src, fua), bytesWritten, n);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return measure(flushes, flushAcks, "flush", inner::flush, null, 0);
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        return measure(trims, trimAcks, "trim", () -> inner.trim(offset, length, fua), null, 0);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        return measure(zeroes, zeroAcks, "zero", () -> inner.writeZeroes(offset, length, fua), null, 0);
    }

    /** Times the call in {@code timer} and, when it succeeded, in {@code ack} (null: not a change). */
    private CompletableFuture<Void> measure(Timer timer, Timer ack, String op,
                                            java.util.function.Supplier<CompletableFuture<Void>> call,
                                            Counter bytes, long n) {
        long start = System.nanoTime(); // before the call: a device may complete within it
        return call.get().whenComplete((v, error) -> {
            long nanos = System.nanoTime() - start;
            timer.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
            if (error == null) {
                if (ack != null) {
                    ack.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
                }
                if (bytes != null) {
                    bytes.increment(n);
                }
            } else {
                registry.counter("tern.block.errors", "resource", resource, "op", op,
                        "error", BlockDeviceException.errorOf(error).name()).increment();
            }
        });
    }
}
