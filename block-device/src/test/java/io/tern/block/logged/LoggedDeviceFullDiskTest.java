package io.tern.block.logged;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.testing.SmallFileSystem;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A device whose log's file system fills up (a real, small tmpfs): ENOSPC, not a failed device. */
class LoggedDeviceFullDiskTest {
    private static final long SIZE = 64L << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    private LoggedDevice open(Path logDir) throws Exception {
        return LoggedDevice.open(new LoggedDeviceConfig()
                .backing(Files.exists(dir.resolve("data")) ? FileBlockDevice.open(dir.resolve("data"), false)
                        : FileBlockDevice.create(dir.resolve("data"), SIZE, false))
                .log(new LogConfig().directory(logDir).name("dev").reserve(2 << 20).segmentSize(1L << 20))
                .checkpointFile(dir.resolve("checkpoint"))
                .checkpointInterval(Duration.ofHours(1)));
    }

    private static ByteBuffer block(long i) {
        byte[] b = new byte[4096];
        new Random(i).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    @Test
    void writesGetEnospcWhileTheLogIsFullAndTheDeviceCarriesOnOnceThereIsRoom() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("small"), 32 << 20)) {
            Path logDir = fs.path().resolve("log");
            long written = 0;
            Path filler = fs.fillLeaving(6 << 20); // before the log opens: see FullFileSystemTest
            try (LoggedDevice dev = open(logDir)) {
                BlockDeviceException refused = null;
                while (refused == null && written < 4096) {
                    try {
                        dev.write(written * 4096, block(written), false).get(10, TimeUnit.SECONDS);
                        written++;
                    } catch (ExecutionException e) {
                        assertThat(e.getCause()).isInstanceOf(BlockDeviceException.class);
                        refused = (BlockDeviceException) e.getCause();
                    }
                }
                assertThat(refused).as("a write was refused").isNotNull();
                assertThat(written).as("the space above the reserve was used").isGreaterThan(256);
                assertThat(refused.error()).isEqualTo(BlockError.ENOSPC);
                assertThat(refused).hasMessageContaining("no space for the log");
                assertThat(dev.failure()).as("the device has not failed").isNull();
                // Reads go on; the refused block was not written.
                ByteBuffer back = ByteBuffer.allocate(4096);
                dev.read(written * 4096, back).get(10, TimeUnit.SECONDS);
                assertThat(back.flip()).isEqualTo(ByteBuffer.allocate(4096));

                // A checkpoint lets the log drop what the device holds; with the filler gone too, writes resume.
                dev.checkpoint();
                Files.delete(filler);
                dev.write(written * 4096, block(written), false).get(10, TimeUnit.SECONDS);
                written++;
            }
            try (LoggedDevice dev = open(logDir)) {
                for (long i = 0; i < written; i++) {
                    ByteBuffer back = ByteBuffer.allocate(4096);
                    dev.read(i * 4096, back).get(10, TimeUnit.SECONDS);
                    assertThat(back.flip()).as("block %d", i).isEqualTo(block(i));
                }
            }
        }
    }
}
