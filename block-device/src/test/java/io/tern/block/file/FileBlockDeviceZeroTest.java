package io.tern.block.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;
import io.tern.testing.ExternalTool;
import io.tern.testing.Seeds;
import io.tern.testing.SmallFileSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Write-zeroes and trim on real files: fallocate on the build's disk (ext4 or xfs), and the
 * fallbacks on file systems that lack a mode — tmpfs (no ZERO_RANGE) and ramfs (no fallocate).
 */
class FileBlockDeviceZeroTest {
    private static final long KIB = 1 << 10;
    private static final long MIB = 1 << 20;
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private final Random random = new Random(Seeds.seed("FileBlockDeviceZeroTest"));
    private final Logger deviceLog = (Logger) LoggerFactory.getLogger(FileBlockDevice.class);
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

    @BeforeEach
    void captureLog() {
        logged.start();
        deviceLog.addAppender(logged);
    }

    @AfterEach
    void releaseLog() {
        deviceLog.detachAppender(logged);
    }

    /** Zeroing a whole 4 GiB device turns its data into unwritten extents; no data block is written. */
    @Test
    void zeroingFourGibibytesWritesNoData() throws Exception {
        long size = 4 * GIB;
        try (FileBlockDevice dev = FileBlockDevice.create(dir.resolve("big.img"), size, false)) {
            byte[] head = randomBytes(64 * KIB);
            byte[] middle = randomBytes(64 * KIB);
            byte[] tail = randomBytes(64 * KIB);
            dev.writeFully(0, ByteBuffer.wrap(head));
            dev.writeFully(GIB + 12345, ByteBuffer.wrap(middle));
            dev.writeFully(size - tail.length, ByteBuffer.wrap(tail));
            dev.sync();
            long writtenBefore = writtenBytes(dev.path());
            assertThat(writtenBefore).isGreaterThanOrEqualTo(3 * 64 * KIB);

            long t0 = System.nanoTime();
            // Unaligned ends: the partial blocks are written, the 4 KiB blocks between go to fallocate.
            assertThat(dev.writeZeroes(1000, size - 2000, true)).succeedsWithin(Duration.ofSeconds(20));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);

            assertThat(dev.zeroStrategy()).as("target/ is on ext4 or xfs, which zero ranges").isEqualTo(ZeroStrategy.ZERO_RANGE);
            assertThat(took).isLessThan(Duration.ofSeconds(20));
            assertThat(writtenBytes(dev.path()))
                    .as("bytes in written extents (ZERO_RANGE leaves unwritten ones, counted in st_blocks %d)",
                            allocatedBlocks(dev.path()))
                    .isLessThanOrEqualTo(writtenBefore);
            assertThat(read(dev, 0, 1000)).isEqualTo(Arrays.copyOf(head, 1000));
            assertThat(read(dev, size - 1000, 1000)).isEqualTo(Arrays.copyOfRange(tail, tail.length - 1000, tail.length));
            assertThat(read(dev, 1000, (int) (64 * KIB))).containsOnly(0);
            assertThat(read(dev, GIB, (int) (128 * KIB))).containsOnly(0);
            assertThat(read(dev, size - 65 * KIB, (int) (64 * KIB))).containsOnly(0);
        }
        assertThat(warnings()).isEmpty();
    }

    @Test
    void trimPunchesHolesAndLeavesTheRestAlone() throws Exception {
        try (FileBlockDevice dev = FileBlockDevice.create(dir.resolve("trim.img"), 64 * MIB, false)) {
            byte[] data = randomBytes(16 * MIB + 8 * KIB);
            dev.writeFully(8 * MIB - 4 * KIB, ByteBuffer.wrap(data));
            dev.sync();
            long before = allocatedBlocks(dev.path());

            assertThat(dev.trim(8 * MIB, 16 * MIB, true)).succeedsWithin(Duration.ofSeconds(10));

            assertThat(dev.trimStrategy()).isEqualTo(TrimStrategy.PUNCH_HOLE);
            // The file system may keep a few blocks of its own (an extent tree block, a preallocated
            // tail): at least 16 MiB less 64 KiB must be freed.
            assertThat(allocatedBlocks(dev.path())).as("512-byte blocks after the trim (%d before)", before)
                    .isLessThanOrEqualTo(before - (16 * MIB - 64 * KIB) / 512);
            assertThat(read(dev, 8 * MIB, (int) (16 * MIB))).containsOnly(0);
            assertThat(read(dev, 8 * MIB - 4 * KIB, (int) (4 * KIB))).isEqualTo(Arrays.copyOf(data, (int) (4 * KIB)));
            assertThat(read(dev, 24 * MIB, (int) (4 * KIB)))
                    .isEqualTo(Arrays.copyOfRange(data, data.length - (int) (4 * KIB), data.length));
        }
    }

    /** tmpfs has no ZERO_RANGE: zeroing punches holes, which read back as zeros, and says so once. */
    @Test
    void onTmpfsZeroingFallsBackToPunchingHoles() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("tmpfs"), 64 * MIB);
             FileBlockDevice dev = FileBlockDevice.create(fs.path().resolve("dev.img"), 16 * MIB, false)) {
            byte[] data = randomBytes(4 * MIB);
            dev.writeFully(0, ByteBuffer.wrap(data));

            assertThat(dev.writeZeroes(100, 2 * MIB, false)).succeedsWithin(Duration.ofSeconds(10));
            assertThat(dev.writeZeroes(3 * MIB, 4 * KIB, true)).succeedsWithin(Duration.ofSeconds(10));

            assertThat(dev.zeroStrategy()).isEqualTo(ZeroStrategy.PUNCH_HOLE);
            assertThat(dev.trimStrategy()).isEqualTo(TrimStrategy.PUNCH_HOLE);
            assertThat(read(dev, 0, 100)).isEqualTo(Arrays.copyOf(data, 100));
            assertThat(read(dev, 100, (int) (2 * MIB))).containsOnly(0);
            assertThat(read(dev, 3 * MIB, (int) (4 * KIB))).containsOnly(0);
            assertThat(read(dev, 2 * MIB + 100, 1000)).isEqualTo(Arrays.copyOfRange(data, (int) (2 * MIB + 100),
                    (int) (2 * MIB + 1100)));
            assertThat(warnings()).singleElement().satisfies(w -> assertThat(w)
                    .contains(dev.path().toString(), "ZERO_RANGE", "errno 95", "punches holes").doesNotContain("PUNCH_HOLE ("));
        }
    }

    /** ramfs has no fallocate at all: zeros are written, trim does nothing, and the log says both once. */
    @Test
    void withoutFallocateZerosAreWrittenAndTrimDoesNothing() throws Exception {
        Path mount = dir.resolve("ramfs");
        Files.createDirectories(mount);
        ExternalTool.run(dir, 30, "mount", "-t", "ramfs", "ramfs", mount.toString()).ok();
        try (FileBlockDevice dev = FileBlockDevice.create(mount.resolve("dev.img"), 8 * MIB, false)) {
            byte[] data = randomBytes(4 * MIB);
            dev.writeFully(0, ByteBuffer.wrap(data));

            assertThat(dev.writeZeroes(4 * KIB, 3 * MIB, true)).succeedsWithin(Duration.ofSeconds(10));
            assertThat(dev.trim(0, 4 * MIB, false)).succeedsWithin(Duration.ofSeconds(10));
            assertThat(dev.writeZeroes(0, 4 * KIB, false)).succeedsWithin(Duration.ofSeconds(10));

            assertThat(dev.zeroStrategy()).isEqualTo(ZeroStrategy.WRITE);
            assertThat(dev.trimStrategy()).isEqualTo(TrimStrategy.NONE);
            assertThat(read(dev, 0, (int) (3 * MIB + 4 * KIB))).containsOnly(0);
            assertThat(read(dev, 3 * MIB + 4 * KIB, (int) (1 * MIB - 4 * KIB)))
                    .as("the trim left the data it could not discard")
                    .isEqualTo(Arrays.copyOfRange(data, (int) (3 * MIB + 4 * KIB), data.length));
            assertThat(warnings()).singleElement().satisfies(w -> assertThat(w)
                    .contains(dev.path().toString(), "ZERO_RANGE (errno 95", "PUNCH_HOLE (errno 95", "writes zeros",
                            "trim does nothing"));
        } finally {
            ExternalTool.run(dir, 30, "umount", "-l", mount.toString()).ok();
        }
    }

    /** close() releases both descriptors, twice is fine, and a later zero fails instead of reaching a reused fd. */
    @Test
    void closeReleasesTheFallocateDescriptor() throws Exception {
        FileBlockDevice dev = FileBlockDevice.create(dir.resolve("close.img"), 1 * MIB, false);
        assertThat(openDescriptors(dev.path())).isEqualTo(2);
        dev.close();
        dev.close();
        assertThat(openDescriptors(dev.path())).isZero();
        Throwable failure = catchThrowable(() -> dev.writeZeroes(0, 64 * KIB, false).get(10, TimeUnit.SECONDS));
        assertThat(failure).isInstanceOf(ExecutionException.class);
        assertThat(failure.getCause()).isInstanceOf(BlockDeviceException.class).hasMessageContaining("closed");
        assertThat(BlockDeviceException.errorOf(failure)).isEqualTo(BlockError.EIO);
    }

    private byte[] randomBytes(long n) {
        byte[] b = new byte[(int) n];
        random.nextBytes(b);
        return b;
    }

    private static byte[] read(FileBlockDevice dev, long offset, int length) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b).get(10, TimeUnit.SECONDS);
        return b.array();
    }

    private List<String> warnings() {
        return logged.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
    }

    /** st_blocks: 512-byte units allocated to the file, unwritten extents included. */
    private long allocatedBlocks(Path file) throws IOException, InterruptedException {
        return Long.parseLong(ExternalTool.run(dir, 30, "stat", "-c", "%b", file.toString()).ok().stdout().trim());
    }

    private static final Pattern BLOCK_SIZE = Pattern.compile("blocks of (\\d+) bytes");
    private static final Pattern EXTENT = Pattern.compile("^\\s*\\d+:\\s*\\d+\\.\\.\\s*\\d+:\\s*\\d+\\.\\.\\s*\\d+:\\s*(\\d+):(.*)$");

    /** Bytes of the file in extents that hold written data (FIEMAP, via filefrag), unwritten ones left out. */
    private long writtenBytes(Path file) throws IOException, InterruptedException {
        String out = ExternalTool.run(dir, 60, "filefrag", "-v", file.toString()).ok().stdout();
        Matcher bs = BLOCK_SIZE.matcher(out);
        assertThat(bs.find()).as("filefrag's block size in:\n%s", out).isTrue();
        long blockSize = Long.parseLong(bs.group(1));
        long blocks = 0;
        for (String line : out.split("\n")) {
            Matcher m = EXTENT.matcher(line);
            if (m.matches() && !m.group(2).contains("unwritten")) {
                blocks += Long.parseLong(m.group(1));
            }
        }
        return blocks * blockSize;
    }

    private static long openDescriptors(Path file) throws IOException {
        Path target = file.toRealPath();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(target);
                } catch (IOException e) {
                    return false; // closed while listing
                }
            }).count();
        }
    }
}
