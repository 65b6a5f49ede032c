package io.tern.block.logged;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoggedDeviceTest {
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    private LoggedDevice open(boolean create) throws Exception {
        FileBlockDevice backing = create ? FileBlockDevice.create(dir.resolve("data"), SIZE, false)
                : FileBlockDevice.open(dir.resolve("data"), false);
        return LoggedDevice.open(new LoggedDeviceConfig().backing(backing)
                .log(new LogConfig().directory(dir.resolve("log")).name("dev").segmentSize(4L << 20))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1)));
    }

    private static ByteBuffer pattern(long seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static ByteBuffer read(LoggedDevice dev, long offset, int length) throws Exception {
        ByteBuffer dst = ByteBuffer.allocate(length);
        dev.read(offset, dst).get(10, TimeUnit.SECONDS);
        return dst.flip();
    }

    private static BlockError errorOf(CompletableFuture<Void> f) {
        assertThat(f).failsWithin(Duration.ofSeconds(10));
        try {
            f.get();
            throw new AssertionError("no error");
        } catch (ExecutionException | InterruptedException e) {
            return BlockDeviceException.errorOf(e);
        }
    }

    @Test
    void completedWritesAreReadBackAndZeroesZero() throws Exception {
        try (LoggedDevice dev = open(true)) {
            dev.write(4096, pattern(1, 8192), false).get(10, TimeUnit.SECONDS);
            dev.write(1_000_000, pattern(2, 513), true).get(10, TimeUnit.SECONDS);
            assertThat(read(dev, 4096, 8192)).isEqualTo(pattern(1, 8192));
            assertThat(read(dev, 1_000_000, 513)).isEqualTo(pattern(2, 513));
            dev.writeZeroes(4096 + 100, 1000, false).get(10, TimeUnit.SECONDS);
            ByteBuffer expect = pattern(1, 8192);
            expect.put(100, new byte[1000]);
            assertThat(read(dev, 4096, 8192)).isEqualTo(expect);
            // Trim becomes a ZERO record: the range reads back as zeros (here and on every secondary).
            dev.trim(1_000_000, 513, false).get(10, TimeUnit.SECONDS);
            assertThat(read(dev, 1_000_000, 513)).isEqualTo(ByteBuffer.allocate(513));
            assertThat(errorOf(dev.trim(SIZE - 1, 2, false))).isEqualTo(BlockError.ENOSPC);
            dev.flush().get(10, TimeUnit.SECONDS);
            assertThat(dev.loggedLsn()).isEqualTo(4);
            assertThat(dev.appliedLsn()).isEqualTo(4);
        }
    }

    @Test
    void inFlushModeWritesCompleteBeforeTheSyncAndFlushOrFuaMakesThemDurable() throws Exception {
        java.util.concurrent.atomic.AtomicInteger syncs = new java.util.concurrent.atomic.AtomicInteger();
        io.tern.log.SyncObserver counter = new io.tern.log.SyncObserver() {
            @Override
            public void afterSync(long lastLsn) {
                syncs.incrementAndGet();
            }
        };
        LoggedDeviceConfig config = new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve("data"), SIZE, false))
                .log(new LogConfig().directory(dir.resolve("log")).name("dev").segmentSize(4L << 20).syncObserver(counter))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1))
                .durability(Durability.FLUSH)
                .syncInterval(Duration.ofHours(1));
        try (LoggedDevice dev = LoggedDevice.open(config)) {
            for (int i = 0; i < 10; i++) {
                dev.write(i * 4096L, pattern(i, 4096), false).get(10, TimeUnit.SECONDS);
            }
            assertThat(syncs.get()).isZero();
            assertThat(dev.loggedLsn()).as("appended, not yet durable").isZero();
            assertThat(read(dev, 9 * 4096L, 4096)).isEqualTo(pattern(9, 4096));
            dev.checkpoint();
            assertThat(dev.checkpointLsn()).as("a checkpoint never passes the durable log").isZero();

            dev.flush().get(10, TimeUnit.SECONDS);
            assertThat(syncs.get()).isEqualTo(1);
            assertThat(dev.loggedLsn()).isEqualTo(10);

            dev.write(20 * 4096L, pattern(20, 4096), true).get(10, TimeUnit.SECONDS);
            assertThat(syncs.get()).isEqualTo(2);
            assertThat(dev.loggedLsn()).isEqualTo(11);
            dev.write(21 * 4096L, pattern(21, 4096), false).get(10, TimeUnit.SECONDS);
        }
        // A clean close syncs what was not flushed.
        try (LoggedDevice dev = open(false)) {
            assertThat(dev.loggedLsn()).isEqualTo(12);
            assertThat(read(dev, 21 * 4096L, 4096)).isEqualTo(pattern(21, 4096));
        }
    }

    @Test
    void requestsOutsideTheDeviceFailAndChangeNothing() throws Exception {
        try (LoggedDevice dev = open(true)) {
            assertThat(errorOf(dev.write(SIZE - 100, pattern(3, 4096), false))).isEqualTo(BlockError.ENOSPC);
            assertThat(errorOf(dev.write(-1, pattern(3, 16), false))).isEqualTo(BlockError.EINVAL);
            assertThat(errorOf(dev.writeZeroes(SIZE, 1, false))).isEqualTo(BlockError.ENOSPC);
            assertThat(errorOf(dev.read(SIZE - 10, ByteBuffer.allocate(11)))).isEqualTo(BlockError.EINVAL);
            assertThat(dev.loggedLsn()).isZero();
            assertThat(read(dev, SIZE - 100, 100)).isEqualTo(ByteBuffer.allocate(100));
            // The device keeps serving.
            dev.write(SIZE - 100, pattern(4, 100), false).get(10, TimeUnit.SECONDS);
            assertThat(read(dev, SIZE - 100, 100)).isEqualTo(pattern(4, 100));
        }
    }

    /** Replay rebuilds the device from the log: wipe the backing store and the checkpoint, reopen. */
    @Test
    void openingReplaysTheLogFromTheCheckpoint() throws Exception {
        try (LoggedDevice dev = open(true)) {
            for (int i = 0; i < 50; i++) {
                dev.write(i * 65536L, pattern(i, 65536), false).get(10, TimeUnit.SECONDS);
            }
            dev.checkpoint();
            assertThat(dev.checkpointLsn()).isEqualTo(50);
            for (int i = 50; i < 60; i++) {
                dev.write(i * 65536L, pattern(i, 65536), false).get(10, TimeUnit.SECONDS);
            }
        }
        // Lose the backing store's content after the checkpoint (as if never synced) ...
        try (var ch = java.nio.channels.FileChannel.open(dir.resolve("data"), java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(10 * 65536), 50 * 65536L);
        }
        new Checkpoint(1, 50).store(dir.resolve("checkpoint"));
        try (LoggedDevice dev = open(false)) {
            assertThat(dev.replayed()).isEqualTo(10);
            for (int i = 0; i < 60; i++) {
                assertThat(read(dev, i * 65536L, 65536)).as("block %d", i).isEqualTo(pattern(i, 65536));
            }
            assertThat(dev.checkpointLsn()).isEqualTo(60);
        }
        // ... and everything, from an empty store and no checkpoint (the log was trimmed at lsn 50
        // by the checkpoint only if a segment was wholly below it; replay takes what the log holds).
        Files.delete(dir.resolve("checkpoint"));
        try (LoggedDevice dev = open(false)) {
            assertThat(dev.replayed()).isEqualTo(60 - (dev.log().firstLsn() - 1));
        }
    }

    @Test
    void aReadOnlyBackingRefusesWritesWithEperm() throws Exception {
        open(true).close();
        try (LoggedDevice dev = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.open(dir.resolve("data"), true))
                .log(new LogConfig().directory(dir.resolve("log")).name("ro").segmentSize(4L << 20))
                .checkpointFile(dir.resolve("checkpoint")))) {
            assertThat(dev.isReadOnly()).isTrue();
            assertThat(errorOf(dev.write(0, pattern(5, 512), false))).isEqualTo(BlockError.EPERM);
            assertThat(read(dev, 0, 512)).isEqualTo(ByteBuffer.allocate(512));
        }
    }

    @Test
    void createRefusesToOverwriteAnExistingFile() throws Exception {
        open(true).close();
        assertThatThrownBy(() -> FileBlockDevice.create(dir.resolve("data"), SIZE, false))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
    }

    /** A clock the test moves, to roll the log's segments (Chronicle rolls by the clock only). */
    @Test
    void checkpointsDeleteOnlyTheSegmentsThatEveryMemberIsPast() throws Exception {
        java.util.concurrent.atomic.AtomicLong retainFrom = new java.util.concurrent.atomic.AtomicLong(1);
        try (LoggedDevice dev = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve("data"), SIZE, false))
                .log(new LogConfig().directory(dir.resolve("log")).name("dev").segmentSize(1L << 20))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1))
                .retainFrom(retainFrom::get))) {
            int record = 100 << 10; // ten fill a 1 MiB segment
            for (int i = 0; i < 30; i++) { // lsn 1-10, 11-20, 21-30 in three segments
                dev.write((long) record * (i % 10), pattern(i, record), false).get(10, TimeUnit.SECONDS);
            }
            dev.checkpoint();
            assertThat(dev.log().firstLsn()).as("a member still needs lsn 1").isEqualTo(1);

            retainFrom.set(15); // the member replayed up to 14
            dev.write(0, pattern(1, record), false).get(10, TimeUnit.SECONDS); // lsn 31 opens a fourth segment
            dev.checkpoint();
            assertThat(dev.log().firstLsn()).as("only the segment wholly below 15 goes").isEqualTo(11);

            retainFrom.set(Long.MAX_VALUE); // no member needs anything: the checkpoint decides
            dev.write(0, pattern(2, record), false).get(10, TimeUnit.SECONDS);
            dev.checkpoint();
            assertThat(dev.log().firstLsn()).isEqualTo(31);
        }
    }
}
