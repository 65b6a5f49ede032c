package io.tern.block.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import io.tern.testing.ExternalTool;
import io.tern.testing.SmallFileSystem;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A preallocated backing file has every block allocated at creation, by fallocate (no data
 * written) where the file system has it, by zeros where it has not; a file system too small for
 * it refuses the creation and keeps nothing.
 */
class FileBlockDevicePreallocateTest {
    private static final long MIB = 1 << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void preallocationAllocatesEveryBlockWithoutWritingData() throws Exception {
        long size = 256 * MIB;
        try (FileBlockDevice dev = FileBlockDevice.create(dir.resolve("full.img"), size, true)) {
            assertThat(dev.size()).isEqualTo(size);
            assertThat(Files.size(dev.path())).isEqualTo(size);
            assertThat(512 * allocatedBlocks(dev.path())).as("bytes allocated").isGreaterThanOrEqualTo(size);
            assertThat(readAt(dev, size - 4096)).containsOnly(0);
            dev.writeFully(size - 4096, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertThat(readAt(dev, size - 4096)).startsWith(1, 2, 3);
        }
        try (FileBlockDevice dev = FileBlockDevice.create(dir.resolve("sparse.img"), size, false)) {
            assertThat(Files.size(dev.path())).isEqualTo(size);
            assertThat(512 * allocatedBlocks(dev.path())).as("bytes allocated to a sparse file").isLessThan(MIB);
        }
    }

    @Test
    void aFileSystemTooSmallRefusesTheCreationAndKeepsNothing() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("small"), 32 * MIB)) {
            Path file = fs.path().resolve("dev.img");
            assertThatThrownBy(() -> FileBlockDevice.create(file, 64 * MIB, true))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left").hasMessageContaining("--sparse");
            assertThat(file).doesNotExist();
            assertThat(fs.usable()).as("the space is free again").isGreaterThan(30 * MIB);
            FileBlockDevice.create(file, 64 * MIB, false).close(); // sparse: fine until written
        }
    }

    /** ramfs has no fallocate: the file is written with zeros instead. */
    @Test
    void withoutFallocateZerosAreWritten() throws Exception {
        Path mount = dir.resolve("ramfs");
        Files.createDirectories(mount);
        ExternalTool.run(dir, 30, "mount", "-t", "ramfs", "ramfs", mount.toString()).ok();
        try (FileBlockDevice dev = FileBlockDevice.create(mount.resolve("dev.img"), 8 * MIB, true)) {
            assertThat(Files.size(dev.path())).isEqualTo(8 * MIB);
            assertThat(readAt(dev, 0)).containsOnly(0);
            assertThat(readAt(dev, 8 * MIB - 4096)).containsOnly(0);
        } finally {
            ExternalTool.run(dir, 30, "umount", "-l", mount.toString()).ok();
        }
    }

    private static byte[] readAt(FileBlockDevice dev, long offset) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        dev.readFully(offset, b);
        return b.array();
    }

    /** st_blocks: 512-byte units allocated to the file, unwritten extents included. */
    private long allocatedBlocks(Path file) throws IOException, InterruptedException {
        return Long.parseLong(ExternalTool.run(dir, 30, "stat", "-c", "%b", file.toString()).ok().stdout().trim());
    }
}
