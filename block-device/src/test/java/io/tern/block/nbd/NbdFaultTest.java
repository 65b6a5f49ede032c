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
    void aBackingStoreIoErrorStallsThatDeviceOnlyAndIsReportedAsEio() throws Exception {
        plan.failWrites(BlockError.EIO, 3);
        try (NbdClient bad = NbdClient.connect(address(), "bad");
             NbdClient good = NbdClient.connect(address(), "good")) {
            for (int i = 0; i < 3; i++) {
                assertThat(errnoOf(bad.write(i * 4096L, new byte[4096], false))).isZero();
            }
            assertThat(errnoOf(bad.write(5 * 4096L, new byte[4096], false))).isEqualTo(BlockError.EIO.errno());
            // The device is stalled, not failed: writes get EIO until the store takes the record
            // (retried from the log); reads and flushes go on.
            assertThat(faulty.failure()).isNull();
            assertThat(faulty.problem()).contains("EIO");
            assertThat(errnoOf(bad.write(0, new byte[512], false))).isEqualTo(BlockError.EIO.errno());
            assertThat(errnoOf(bad.read(0, 512))).isZero();
            assertThat(errnoOf(bad.flush())).isZero();
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
            assertThat(errnoOf(bad.writeZeroes(0, 4096))).isEqualTo(BlockError.ENOSPC.errno()); // stalled since
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

    /** DISC right behind a write: the write is completed and replied before the server closes. */
    @Test
    void disconnectCompletesTheRequestsBeforeIt() throws Exception {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(address(), 5000);
            s.setSoTimeout(10_000);
            var out = new java.io.DataOutputStream(s.getOutputStream());
            var in = new java.io.DataInputStream(s.getInputStream());
            in.readNBytes(18); // greeting
            byte[] name = "good".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.writeInt(3);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(1); // EXPORT_NAME
            out.writeInt(name.length);
            out.write(name);
            byte[] data = new byte[65536];
            Arrays.fill(data, (byte) 7);
            for (int i = 0; i < 8; i++) { // writes, then DISC, then a request that must be ignored
                out.writeInt(0x25609513);
                out.writeShort(0);
                out.writeShort(1);
                out.writeLong(100 + i);
                out.writeLong(i * 65536L);
                out.writeInt(data.length);
                out.write(data);
            }
            out.writeInt(0x25609513);
            out.writeShort(0);
            out.writeShort(2); // DISC
            out.writeLong(999);
            out.writeLong(0);
            out.writeInt(0);
            out.writeInt(0x25609513);
            out.writeShort(0);
            out.writeShort(3); // FLUSH after DISC: ignored
            out.writeLong(1000);
            out.writeLong(0);
            out.writeInt(0);
            out.flush();
            in.readNBytes(10); // export size and flags
            java.util.Set<Long> replied = new java.util.HashSet<>();
            for (int i = 0; i < 8; i++) {
                assertThat(in.readInt()).isEqualTo(0x67446698);
                assertThat(in.readInt()).isZero();
                replied.add(in.readLong());
            }
            assertThat(replied).containsExactlyInAnyOrder(100L, 101L, 102L, 103L, 104L, 105L, 106L, 107L);
            assertThat(in.read()).as("closed after the last reply, nothing for the ignored request").isEqualTo(-1);
        }
        try (NbdClient good = NbdClient.connect(address(), "good")) {
            assertThat(good.read(7 * 65536L, 65536).get(10, TimeUnit.SECONDS)).containsOnly((byte) 7);
            assertThat(good.read(0, 0).get(10, TimeUnit.SECONDS)).isNull(); // an empty read is fine
        }
    }

    /** A client that sends reads and never reads the replies holds at most the connection's budget. */
    @Test
    void aClientThatDoesNotReadItsRepliesHoldsOnlyItsBudget() throws Exception {
        NbdServer small = NbdServer.start(new NbdServerConfig().listen(new InetSocketAddress("127.0.0.1", 0))
                .maxPayload(1 << 20).maxInFlightBytes(2 << 20), nbd.exports);
        var alloc = (io.netty.buffer.ByteBufAllocatorMetricProvider) io.netty.buffer.ByteBufAllocator.DEFAULT;
        long before = alloc.metric().usedDirectMemory();
        try (java.net.Socket s = new java.net.Socket()) {
            s.setReceiveBufferSize(64 << 10);
            s.connect(small.address(), 5000);
            var out = new java.io.DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream()));
            var in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
            in.readNBytes(18);
            byte[] name = "good".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.writeInt(3);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(1);
            out.writeInt(name.length);
            out.write(name);
            int reads = 200; // 200 MiB of replies asked for
            for (int i = 0; i < reads; i++) {
                out.writeInt(0x25609513);
                out.writeShort(0);
                out.writeShort(0);
                out.writeLong(i);
                out.writeLong(0);
                out.writeInt(1 << 20);
            }
            out.flush();
            long peak = 0;
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            while (System.nanoTime() < until) { // sample while the client does not read
                peak = Math.max(peak, alloc.metric().usedDirectMemory() - before);
                Thread.onSpinWait();
            }
            assertThat(peak).as("direct memory held for one stalled connection").isLessThan(32L << 20);
            in.readNBytes(10);
            for (int i = 0; i < reads; i++) {
                assertThat(in.readInt()).isEqualTo(0x67446698);
                assertThat(in.readInt()).isZero();
                in.readLong();
                in.readNBytes(1 << 20);
            }
        } finally {
            small.close();
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
