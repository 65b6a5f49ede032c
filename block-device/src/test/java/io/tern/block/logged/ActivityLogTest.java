package io.tern.block.logged;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.RecordOp;
import io.tern.log.TransactionLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Flush mode's activity log: after a power cut the backing store may hold writes whose records
 * the log lost; recovery re-logs the extents the activity log names, so that replaying the log
 * from its start gives the primary's image again.
 */
class ActivityLogTest {
    private static final long SIZE = 32L << 20;
    private static final long EXTENT = ActivityLog.DEFAULT_EXTENT;

    @TempDir
    Path dir;

    private LoggedDeviceConfig config(boolean create) throws Exception {
        FileBlockDevice backing = create ? FileBlockDevice.create(dir.resolve("data"), SIZE, false)
                : FileBlockDevice.open(dir.resolve("data"), false);
        return new LoggedDeviceConfig().backing(backing)
                .log(new LogConfig().directory(dir.resolve("log")).name("al").segmentSize(8L << 20))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1))
                .durability(Durability.FLUSH)
                .syncInterval(Duration.ofHours(1));
    }

    private static ByteBuffer block(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void deleteTree(Path root) throws Exception {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void writesTheLogLostButTheStoreKeptAreReLoggedFromTheExtentsItNames() throws Exception {
        try (LoggedDevice dev = LoggedDevice.open(config(true))) {
            dev.write(0, block(1), false).get(10, TimeUnit.SECONDS);
            dev.flush().get(10, TimeUnit.SECONDS); // lsn 1 is durable
        }
        Path savedLog = dir.resolve("log-as-synced");
        copyTree(dir.resolve("log"), savedLog);
        Path savedActivity = dir.resolve("activity-as-written");
        try (LoggedDevice dev = LoggedDevice.open(config(false))) {
            // Two extents written and applied, never synced in the log ...
            dev.write(4096, block(2), false).get(10, TimeUnit.SECONDS);
            dev.write(3 * EXTENT + 8192, block(3), false).get(10, TimeUnit.SECONDS);
            assertThat(dev.activityLogWrites()).as("new extents entered the activity log first").isPositive();
            assertThat(dev.loggedLsn()).isEqualTo(1);
            // ... while the store reached the disk (the checkpointer syncs it whenever it likes).
            dev.checkpoint();
            Files.copy(dir.resolve("activity"), savedActivity);
            Files.copy(dir.resolve("checkpoint"), dir.resolve("checkpoint-as-written"));
        }
        // The power cut: the log loses its unsynced records; the store and the activity log keep theirs.
        deleteTree(dir.resolve("log"));
        copyTree(savedLog, dir.resolve("log"));
        Files.copy(savedActivity, dir.resolve("activity"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(dir.resolve("checkpoint-as-written"), dir.resolve("checkpoint"), StandardCopyOption.REPLACE_EXISTING);

        try (LoggedDevice dev = LoggedDevice.open(config(false))) {
            assertThat(dev.loggedLsn()).as("extents 0 and 3 re-logged").isGreaterThan(1);
            ByteBuffer back = ByteBuffer.allocate(4096);
            dev.read(3 * EXTENT + 8192, back).get(10, TimeUnit.SECONDS);
            assertThat(back.flip()).isEqualTo(block(3));
        }
        // Replaying the whole log onto an empty device gives the primary's image: what a secondary gets.
        try (FileBlockDevice replica = FileBlockDevice.create(dir.resolve("replica"), SIZE, false);
             TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("al")
                     .segmentSize(8L << 20));
             LogReader r = log.reader(log.firstLsn())) {
            LogRecord rec = new LogRecord();
            while (r.next(rec)) {
                if (rec.op() == RecordOp.WRITE) {
                    replica.write(rec.offset(), rec.payload(), false).get(10, TimeUnit.SECONDS);
                }
            }
        }
        assertThat(Files.mismatch(dir.resolve("replica"), dir.resolve("data"))).isEqualTo(-1);
        try (LoggedDevice dev = LoggedDevice.open(config(false))) {
            assertThat(dev.recovery().cut()).isFalse();
        }
        assertThat(ActivityLog.load(dir.resolve("activity"), EXTENT, 16).extents())
                .as("a clean close leaves nothing to re-log").isEmpty();
    }

    @Test
    void aFullActivityLogWaitsForALogSyncInsteadOfForgettingAnExtent() throws Exception {
        try (LoggedDevice dev = LoggedDevice.open(config(true).activityLogExtents(2))) {
            for (int e = 0; e < 8; e++) { // eight extents through an activity log of two
                dev.write(e * EXTENT, block(e), false).get(10, TimeUnit.SECONDS);
                assertThat(ActivityLog.load(dir.resolve("activity"), EXTENT, 2).extents())
                        .as("extent %d is named before it is written", e).contains((long) e);
            }
            assertThat(dev.loggedLsn()).as("the log was synced to make room").isGreaterThanOrEqualTo(6);
        }
    }
}
