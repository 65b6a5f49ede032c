package io.tern.block.logged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.block.fault.FaultInjectingDevice;
import io.tern.block.fault.FaultPlan;
import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A backing store that refuses records (ENOSPC of a sparse file on a full file system, EIO)
 * stalls the device: writes get that error, nothing acknowledged is lost, and once the store
 * takes records again the device applies what waits in the log and takes writes by itself — also
 * when it was opened while the store still refused the records to replay.
 */
class LoggedDeviceStallTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    private LoggedDevice open(FaultPlan plan, Durability durability) throws Exception {
        Path data = dir.resolve("data");
        BlockDevice file = Files.exists(data) ? FileBlockDevice.open(data, false) : FileBlockDevice.create(data, SIZE, false);
        return LoggedDevice.open(new LoggedDeviceConfig()
                .backing(plan == null ? file : new FaultInjectingDevice(file, plan))
                .durability(durability)
                .log(new LogConfig().directory(dir.resolve("log")).name("dev").segmentSize(4L << 20))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1)));
    }

    private static byte[] block(int i) {
        byte[] b = new byte[BLOCK];
        new Random(i).nextBytes(b);
        return b;
    }

    private static CompletableFuture<Void> write(LoggedDevice dev, int i) {
        return dev.write((long) i * BLOCK, ByteBuffer.wrap(block(i)), false);
    }

    private static byte[] read(LoggedDevice dev, int i) throws Exception {
        ByteBuffer dst = ByteBuffer.allocate(BLOCK);
        dev.read((long) i * BLOCK, dst).get(10, TimeUnit.SECONDS);
        return dst.array();
    }

    private static BlockDeviceException refusal(CompletableFuture<Void> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
            throw new AssertionError("the write was taken");
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(BlockDeviceException.class);
            return (BlockDeviceException) e.getCause();
        }
    }

    private void assertBlocks(int count) throws Exception {
        try (LoggedDevice dev = open(null, Durability.SYNC)) {
            for (int i = 0; i < count; i++) {
                assertThat(read(dev, i)).as("block %d after a restart", i).isEqualTo(block(i));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"ENOSPC, SYNC", "EIO, SYNC", "ENOSPC, FLUSH"})
    void aStoreThatRefusesRecordsStallsTheDeviceUntilItTakesThemAgain(BlockError error, Durability durability)
            throws Exception {
        FaultPlan plan = new FaultPlan();
        try (LoggedDevice dev = open(plan, durability)) {
            for (int i = 0; i < 10; i++) {
                write(dev, i).get(10, TimeUnit.SECONDS);
            }
            plan.failWrites(error, 0);
            BlockDeviceException first = refusal(write(dev, 10));
            assertThat(first.error()).isEqualTo(error);
            assertThat(first).hasMessageContaining("the backing store refuses lsn");
            assertThat(dev.failure()).as("stalled, not failed").isNull();
            assertThat(dev.problem()).contains(error.name());

            long logged = dev.log().lastLsn();
            BlockDeviceException next = refusal(write(dev, 11));
            assertThat(next.error()).isEqualTo(error);
            assertThat(dev.log().lastLsn()).as("a write refused while stalled is not logged").isEqualTo(logged);
            assertThat(read(dev, 5)).as("reads go on").isEqualTo(block(5));

            plan.failWrites(null, 0); // room again
            await().atMost(Duration.ofSeconds(30)).until(() -> dev.problem() == null);
            assertThat(dev.failure()).isNull();
            assertThat(read(dev, 10)).as("the refused write, applied from the log").isEqualTo(block(10));
            write(dev, 11).get(10, TimeUnit.SECONDS);
            assertThat(read(dev, 11)).isEqualTo(block(11));
        }
        assertBlocks(12);
    }

    @Test
    void aDeviceOpenedWhileItsStoreStillRefusesTheReplayOpensStalledAndRecovers() throws Exception {
        FaultPlan plan = new FaultPlan();
        try (LoggedDevice dev = open(plan, Durability.SYNC)) {
            for (int i = 0; i < 5; i++) {
                write(dev, i).get(10, TimeUnit.SECONDS);
            }
            plan.failWrites(BlockError.ENOSPC, 0);
            refusal(write(dev, 5));
        } // the checkpoint stays below the refused record: the next open replays it
        try (LoggedDevice dev = open(plan, Durability.SYNC)) {
            assertThat(dev.failure()).isNull();
            assertThat(dev.problem()).contains("ENOSPC");
            assertThat(refusal(write(dev, 6)).error()).isEqualTo(BlockError.ENOSPC);

            plan.failWrites(null, 0);
            await().atMost(Duration.ofSeconds(30)).until(() -> dev.problem() == null);
            assertThat(read(dev, 5)).isEqualTo(block(5));
            write(dev, 6).get(10, TimeUnit.SECONDS);
        }
        assertBlocks(7);
    }

    @Test
    void anotherErrorOfTheStoreStillFailsTheDevice() throws Exception {
        FaultPlan plan = new FaultPlan();
        try (LoggedDevice dev = open(plan, Durability.SYNC)) {
            write(dev, 0).get(10, TimeUnit.SECONDS);
            plan.failWrites(BlockError.EINVAL, 0);
            refusal(write(dev, 1));
            assertThat(dev.failure()).isNotNull();
            assertThat(dev.problem()).isNull();
        }
    }
}
