package io.tern.block.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockDevice;
import io.tern.block.ForwardingBlockDevice;
import io.tern.block.file.FileBlockDevice;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event loops never wait on a device: reads, flushes and zeroes run on the server's
 * {@code tern-nbd-io-*} threads, so a device stuck in a read stalls no other connection, even
 * one on the same event loop.
 */
class NbdEventLoopTest {
    private static final long SIZE = 4 << 20;

    @TempDir
    Path dir;

    private final NbdExports exports = new NbdExports();
    private NbdServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        exports.all().forEach(e -> e.device().close());
    }

    private void serve(BlockDevice device) throws Exception {
        exports.add(new NbdExport("dev", "test device", device));
        server = NbdServer.start(new NbdServerConfig().listen(new InetSocketAddress("127.0.0.1", 0))
                .eventLoopThreads(1).ioThreads(2), exports);
    }

    @Test
    void readsFlushesAndZeroesRunOnTheIoThreads() throws Exception {
        ThreadRecorder device = new ThreadRecorder(FileBlockDevice.create(dir.resolve("d.img"), SIZE, false));
        serve(device);
        try (NbdClient client = NbdClient.connect(server.address(), "dev")) {
            client.write(0, new byte[4096], false).get(10, TimeUnit.SECONDS);
            client.read(0, 4096).get(10, TimeUnit.SECONDS);
            client.flush().get(10, TimeUnit.SECONDS);
            client.writeZeroes(8192, 4096).get(10, TimeUnit.SECONDS);
        }
        assertThat(device.threads.keySet()).containsExactlyInAnyOrder("write", "read", "flush", "zero");
        for (String op : Set.of("read", "flush", "zero")) {
            assertThat(device.threads.get(op)).as(op).allMatch(t -> t.startsWith("tern-nbd-io-"));
        }
    }

    @Test
    void aReadStuckInTheDeviceStallsNoOtherConnection() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        BlockDevice file = FileBlockDevice.create(dir.resolve("d.img"), SIZE, false);
        serve(new ForwardingBlockDevice(file) {
            @Override
            public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
                if (offset == 0) { // a read that blocks its calling thread, as a pread on a hung disk does
                    stuck.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return inner.read(offset, dst);
            }
        });
        try (NbdClient blocked = NbdClient.connect(server.address(), "dev");
             NbdClient other = NbdClient.connect(server.address(), "dev")) {
            CompletableFuture<byte[]> slow = blocked.read(0, 4096);
            assertThat(stuck.await(10, TimeUnit.SECONDS)).as("the read reached the device").isTrue();
            byte[] data = new byte[4096];
            data[7] = 7;
            // Both connections share the server's single event loop.
            assertThat(other.write(65536, data, false)).succeedsWithin(Duration.ofSeconds(5));
            assertThat(other.read(65536, 4096)).succeedsWithin(Duration.ofSeconds(5), InstanceOfAssertFactories.BYTE_ARRAY)
                    .isEqualTo(data);
            assertThat(blocked.write(131072, data, false)).succeedsWithin(Duration.ofSeconds(5));
            assertThat(slow).isNotDone();
            release.countDown();
            assertThat(slow).succeedsWithin(Duration.ofSeconds(10));
        } finally {
            release.countDown();
        }
    }

    @Test
    void closeStopsTheIoThreads() throws Exception {
        serve(FileBlockDevice.create(dir.resolve("d.img"), SIZE, false));
        try (NbdClient client = NbdClient.connect(server.address(), "dev")) {
            client.read(0, 4096).get(10, TimeUnit.SECONDS);
        }
        assertThat(ioThreads()).isPositive();
        server.close();
        server = null;
        await().atMost(Duration.ofSeconds(10)).until(() -> ioThreads() == 0);
    }

    private static long ioThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("tern-nbd-io-")).count();
    }

    /** Records the names of the threads each operation is called on. */
    static final class ThreadRecorder extends ForwardingBlockDevice {
        final Map<String, Set<String>> threads = new ConcurrentHashMap<>();

        ThreadRecorder(BlockDevice inner) {
            super(inner);
        }

        private void record(String op) {
            threads.computeIfAbsent(op, k -> ConcurrentHashMap.newKeySet()).add(Thread.currentThread().getName());
        }

        @Override
        public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
            record("read");
            return inner.read(offset, dst);
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            record("write");
            return inner.write(offset, src, fua);
        }

        @Override
        public CompletableFuture<Void> flush() {
            record("flush");
            return inner.flush();
        }

        @Override
        public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
            record("trim");
            return inner.trim(offset, length, fua);
        }

        @Override
        public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
            record("zero");
            return inner.writeZeroes(offset, length, fua);
        }
    }
}
