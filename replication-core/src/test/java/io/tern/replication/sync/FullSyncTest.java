package io.tern.replication.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.ship.ReplicationServer;
import io.tern.replication.ship.ShipperConfig;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/** The full sync against a real primary device and shipper, in one process. */
class FullSyncTest {
    private static final int SIZE = 8 << 20;
    private static final int CHUNK = 64 << 10;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(BlockDigest.class)
    void onlyBlocksThatDifferAreSentAndACopiedSyncDoesNotCopyAgain(BlockDigest digest) throws Exception {
        Random random = new Random(Seeds.seed("FullSyncTest"));
        byte[] image = new byte[SIZE];
        random.nextBytes(image);
        Files.write(dir.resolve("s.img"), image);
        // The secondary's copy differs in one byte of each of three chunks: three 4 KiB blocks move.
        byte[] stale = image.clone();
        int[] changed = {0, 17, SIZE / CHUNK - 1};
        for (int c : changed) {
            stale[c * CHUNK + 4096 + random.nextInt(4096)] ^= 1;
        }
        Path secondaryImage = dir.resolve("b.img");
        Files.write(secondaryImage, stale);
        try (LoggedDevice primary = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.open(dir.resolve("s.img"), false))
                .log(new LogConfig().directory(dir.resolve("p-log")).name("p"))
                .checkpointFile(dir.resolve("p.checkpoint")));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .device(primary, primary::appliedLsn, () -> primary.log().lastLsn())
                     .members((node, lsn) -> { }));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c", r -> shipper);
             FileBlockDevice secondary = FileBlockDevice.open(secondaryImage, false)) {
            primary.write(0, ByteBuffer.wrap(new byte[4096]), false).get(10, TimeUnit.SECONDS); // lsn 1, chunk 0
            System.arraycopy(new byte[4096], 0, image, 0, 4096);
            Path state = dir.resolve("sync.properties");
            SyncState.NEW.store(state);
            SyncState copied;
            try (FullSync sync = new FullSync("c", "r0", "b", server.address(), secondary, state, CHUNK, 0)
                    .digest(digest)) {
                copied = sync.start().get(60, TimeUnit.SECONDS);
                // Chunk 0 also differs in its first block, which the primary wrote meanwhile.
                assertThat(sync.bytesSent()).isEqualTo((changed.length + 1) * 4096L);
                assertThat(sync.bytesSame()).isEqualTo(SIZE - (changed.length + 1) * 4096L);
            }
            assertThat(copied.start()).as("start: after everything applied").isEqualTo(2);
            assertThat(copied.next()).isEqualTo(SIZE);
            assertThat(copied.end()).isGreaterThanOrEqualTo(1);
            assertThat(SyncState.load(state)).isEqualTo(copied);
            assertThat(shipper.members().get("b").replayedLsn()).as("the primary keeps its log from start").isEqualTo(1);
            assertThat(Files.readAllBytes(secondaryImage)).isEqualTo(image);

            // Killed after the copy was stored but before the next phase: nothing is copied again.
            try (FullSync again = new FullSync("c", "r0", "b", new InetSocketAddress("127.0.0.1", 1), secondary, state,
                    CHUNK, 0)) {
                assertThat(again.start().get(10, TimeUnit.SECONDS)).isEqualTo(copied);
                assertThat(again.bytesSent() + again.bytesSame()).isZero();
            }
        }
    }

    @Test
    void aLocalDiskThatRefusesChunksForAWhileHoldsTheSyncUpWithoutStoppingIt() throws Exception {
        Random random = new Random(Seeds.seed("FullSyncTest-enospc"));
        byte[] image = new byte[SIZE];
        random.nextBytes(image);
        Files.write(dir.resolve("s.img"), image);
        Files.write(dir.resolve("b.img"), new byte[SIZE]);
        io.tern.block.fault.FaultPlan plan = new io.tern.block.fault.FaultPlan()
                .failWrites(io.tern.block.BlockError.ENOSPC, 100); // after 100 blocks: the disk is full
        try (LoggedDevice primary = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.open(dir.resolve("s.img"), false))
                .log(new LogConfig().directory(dir.resolve("p-log")).name("p"))
                .checkpointFile(dir.resolve("p.checkpoint")));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .device(primary, primary::appliedLsn, () -> primary.log().lastLsn())
                     .members((node, lsn) -> { }));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c", r -> shipper);
             io.tern.block.fault.FaultInjectingDevice secondary = new io.tern.block.fault.FaultInjectingDevice(
                     FileBlockDevice.open(dir.resolve("b.img"), false), plan)) {
            Path state = dir.resolve("sync.properties");
            SyncState.NEW.store(state);
            try (FullSync sync = new FullSync("c", "r0", "b", server.address(), secondary, state, CHUNK, 0)) {
                java.util.concurrent.CompletableFuture<SyncState> done = sync.start();
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> sync.problem() != null);
                assertThat(sync.problem()).contains("ENOSPC");
                assertThat(done).as("held up, not failed").isNotDone();
                plan.failWrites(null, 0); // space returns
                SyncState copied = done.get(60, TimeUnit.SECONDS);
                assertThat(copied.next()).isEqualTo(SIZE);
                assertThat(sync.problem()).isNull();
            }
            assertThat(Files.readAllBytes(dir.resolve("b.img"))).isEqualTo(image);
        }
    }

    @Test
    void inFlushModeAChunkShowingAWriteNotYetDurableWaitsForTheLogSync() throws Exception {
        Files.write(dir.resolve("s.img"), new byte[SIZE]);
        Files.write(dir.resolve("b.img"), new byte[SIZE]);
        try (LoggedDevice primary = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.open(dir.resolve("s.img"), false))
                .log(new LogConfig().directory(dir.resolve("p-log")).name("p"))
                .checkpointFile(dir.resolve("p.checkpoint"))
                .durability(io.tern.block.logged.Durability.FLUSH)
                .syncInterval(java.time.Duration.ofHours(1)));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .device(primary, primary::appliedLsn, () -> primary.log().lastLsn()));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c", r -> shipper);
             FileBlockDevice secondary = FileBlockDevice.open(dir.resolve("b.img"), false)) {
            byte[] one = new byte[4096];
            one[0] = 1;
            primary.write(CHUNK * 3L, ByteBuffer.wrap(one), false).get(10, TimeUnit.SECONDS); // applied, not durable
            assertThat(primary.log().durableLsn()).isZero();
            Path state = dir.resolve("sync.properties");
            SyncState.NEW.store(state);
            try (FullSync sync = new FullSync("c", "r0", "b", server.address(), secondary, state, CHUNK, 0)) {
                SyncState copied = sync.start().get(60, TimeUnit.SECONDS);
                assertThat(sync.bytesSent()).isEqualTo(4096);
                assertThat(copied.end()).isEqualTo(1);
            }
            assertThat(primary.log().durableLsn()).as("the write the copy shows is durable").isEqualTo(1);
        }
    }
}
