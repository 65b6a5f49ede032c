package io.tern.block.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockError;
import io.tern.block.fault.FaultInjectingDevice;
import io.tern.block.fault.FaultPlan;
import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * I/O errors and a full disk under a logged device reach NBD clients as clear errors, fail only
 * that device, and the server keeps serving every other export.
 */
class NbdFaultTest {
    @TempDir
    Path dir;

    private final FaultPlan plan = new FaultPlan();
    private NbdFixture nbd;
    private LoggedDevice faulty;

    @BeforeEach
    void start() throws Exception {
        nbd = new NbdFixture(dir, "good", 4 << 20);
        faulty = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(new FaultInjectingDevice(FileBlockDevice.create(dir.resolve("bad.img"), 4 << 20, false), plan))
                .log(new LogConfig().directory(dir.resolve("bad-log")).name("bad"))
                .checkpointFile(dir.resolve("bad.checkpoint")));
        nbd.exports.add(new NbdExport("bad", "faulty", faulty));
    }

    @AfterEach
    void stop() {
        nbd.close();
    }

    private static int errnoOf(java.util.concurrent.CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
            return 0;
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(NbdClient.NbdError.class);
            return ((NbdClient.NbdError) e.getCause()).errno();
        }
    }

    private InetSocketAddress address() {
        return nbd.server.address();
    }

    @Test
    void aBackingStoreIoErrorFailsThatDeviceOnlyAndIsReportedAsEio() throws Exception {
        plan.failWrites(BlockError.EIO, 3);
        try (NbdClient bad = NbdClient.connect(address(), "bad");
             NbdClient good = NbdClient.connect(address(), "good")) {
            for (int i = 0; i < 3; i++) {
                assertThat(errnoOf(bad.write(i * 4096L, new byte[4096], false))).isZero();
            }
            assertThat(errnoOf(bad.write(5 * 4096L, new byte[4096], false))).isEqualTo(BlockError.EIO.errno());
            // The device is failed for good: no more writes, no reads of a store that may be stale.
            assertThat(faulty.failure()).isNotNull();
            assertThat(errnoOf(bad.write(0, new byte[512], false))).isEqualTo(BlockError.EIO.errno());
            assertThat(errnoOf(bad.read(0, 512))).isEqualTo(BlockError.EIO.errno());
            assertThat(errnoOf(bad.flush())).isEqualTo(BlockError.EIO.errno());
            // Everyone else is served as before, on the same server.
            byte[] data = new byte[4096];
            Arrays.fill(data, (byte) 9);
            assertThat(errnoOf(good.write(8192, data, true))).isZero();
            assertThat(good.read(8192, 4096).get(10, TimeUnit.SECONDS)).isEqualTo(data);
        }
    }

    @Test
    void aFullDiskIsReportedAsEnospc() throws Exception {
        plan.failWrites(BlockError.ENOSPC, 0);
        try (NbdClient bad = NbdClient.connect(address(), "bad")) {
            assertThat(errnoOf(bad.write(0, new byte[4096], false))).isEqualTo(BlockError.ENOSPC.errno());
            assertThat(errnoOf(bad.writeZeroes(0, 4096))).isEqualTo(BlockError.EIO.errno()); // failed since
        }
    }

    @Test
    void aReadErrorIsEioAndLeavesTheDeviceWritable() throws Exception {
        plan.failReads(BlockError.EIO);
        try (NbdClient bad = NbdClient.connect(address(), "bad")) {
            assertThat(errnoOf(bad.read(0, 4096))).isEqualTo(BlockError.EIO.errno());
            plan.failReads(null);
            assertThat(errnoOf(bad.write(0, new byte[4096], false))).isZero();
            assertThat(errnoOf(bad.read(0, 4096))).isZero();
        }
    }

    @Test
    void aSlowDeviceDelaysItsOwnRepliesOnly() throws Exception {
        plan.delay(300);
        try (NbdClient bad = NbdClient.connect(address(), "bad");
             NbdClient good = NbdClient.connect(address(), "good")) {
            long t0 = System.nanoTime();
            var slow = bad.read(0, 4096);
            assertThat(good.read(0, 4096)).succeedsWithin(Duration.ofMillis(250));
            assertThat(slow).succeedsWithin(Duration.ofSeconds(10));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
        }
    }

    @Test
    void writesBeyondTheEndAndOversizedRequestsAreRefusedWithoutHarm() throws Exception {
        try (NbdClient good = NbdClient.connect(address(), "good")) {
            assertThat(errnoOf(good.write((4 << 20) - 512, new byte[4096], false))).isEqualTo(BlockError.ENOSPC.errno());
            assertThat(errnoOf(good.read((4 << 20) - 512, 4096))).isEqualTo(BlockError.EINVAL.errno());
            assertThat(errnoOf(good.read(0, (32 << 20) + 1))).isEqualTo(BlockError.EINVAL.errno());
            assertThat(errnoOf(good.write(0, new byte[(32 << 20) + 4096], false))).isEqualTo(BlockError.EINVAL.errno());
            assertThat(errnoOf(good.write(0, new byte[4096], false))).isZero();
        }
        assertThatThrownBy(() -> NbdClient.connect(address(), "missing")).hasMessageContaining("refused");
    }
}
