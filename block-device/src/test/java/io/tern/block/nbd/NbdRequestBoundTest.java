package io.tern.block.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import io.tern.block.BlockDevice;
import io.tern.block.ForwardingBlockDevice;
import io.tern.block.fault.FaultInjectingDevice;
import io.tern.block.fault.FaultPlan;
import io.tern.block.file.FileBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every request counts against a connection's in-flight bound, not only those carrying data: a
 * client that floods FLUSH and WRITE_ZEROES at a slow device has at most
 * {@code maxInFlightBytes / MIN_REQUEST_COST} of them at the device at once.
 */
class NbdRequestBoundTest {
    private static final int MAX_PAYLOAD = 64 << 10;
    private static final long MAX_IN_FLIGHT = 2L * MAX_PAYLOAD;
    private static final long BOUND = MAX_IN_FLIGHT / NbdServerConfig.MIN_REQUEST_COST;

    @TempDir
    Path dir;

    private final NbdExports exports = new NbdExports();
    private InFlightProbe probe;
    private NbdServer server;

    @BeforeEach
    void start() throws Exception {
        FaultPlan slow = new FaultPlan().delay(20);
        probe = new InFlightProbe(new FaultInjectingDevice(FileBlockDevice.create(dir.resolve("slow.img"), 16 << 20, false), slow));
        exports.add(new NbdExport("slow", "a slow device", probe));
        server = NbdServer.start(new NbdServerConfig().listen(new InetSocketAddress("127.0.0.1", 0))
                .maxPayload(MAX_PAYLOAD).maxInFlightBytes(MAX_IN_FLIGHT), exports);
    }

    @AfterEach
    void stop() {
        server.close();
        probe.close();
    }

    @Test
    void aFloodOfFlushesAndZeroesStaysWithinTheBound() throws Exception {
        int requests = 20 * (int) BOUND;
        try (NbdClient client = NbdClient.connect(server.address(), "slow")) {
            List<CompletableFuture<Void>> replies = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                replies.add(i % 2 == 0 ? client.flush() : client.writeZeroes((i % 1024) * 4096L, 4096));
            }
            CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        }
        assertThat(probe.calls.get()).isEqualTo(requests);
        assertThat(probe.peak.get()).as("requests at the device at once, bound %d", BOUND)
                .isLessThanOrEqualTo((int) BOUND)
                .isGreaterThan(1); // they do run concurrently, up to the bound
    }

    /** Counts the calls in progress at the device it wraps and remembers the most at once. */
    static final class InFlightProbe extends ForwardingBlockDevice {
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger peak = new AtomicInteger();

        InFlightProbe(BlockDevice inner) {
            super(inner);
        }

        private CompletableFuture<Void> track(Supplier<CompletableFuture<Void>> call) {
            calls.incrementAndGet();
            peak.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            return call.get().whenComplete((v, e) -> inFlight.decrementAndGet());
        }

        @Override
        public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
            return track(() -> inner.read(offset, dst));
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            return track(() -> inner.write(offset, src, fua));
        }

        @Override
        public CompletableFuture<Void> flush() {
            return track(inner::flush);
        }

        @Override
        public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
            return track(() -> inner.trim(offset, length, fua));
        }

        @Override
        public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
            return track(() -> inner.writeZeroes(offset, length, fua));
        }
    }
}
