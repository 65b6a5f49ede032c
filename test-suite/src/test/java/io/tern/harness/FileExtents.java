package io.tern.harness;

import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.tern.testing.ExternalTool;

/**
 * How much of a file holds written data, from its extent map ({@code filefrag -v}, FIEMAP):
 * {@code fallocate(ZERO_RANGE)} leaves unwritten extents, which read as zeros and are left out,
 * as block-device's {@code FileBlockDeviceZeroTest} counts them.
 */
public final class FileExtents {
    private static final Pattern BLOCK_SIZE = Pattern.compile("blocks of (\\d+) bytes");
    private static final Pattern EXTENT =
            Pattern.compile("^\\s*\\d+:\\s*\\d+\\.\\.\\s*\\d+:\\s*\\d+\\.\\.\\s*\\d+:\\s*(\\d+):(.*)$");

    private FileExtents() {
    }

    /**
     * Bytes of {@code file} in written extents. The file is synced first ({@code filefrag -s}):
     * delayed allocations have no extent yet and would count as nothing.
     */
    public static long writtenBytes(Path file, Path work) throws IOException, InterruptedException {
        String out = ExternalTool.run(work, 120, "filefrag", "-s", "-v", file.toString()).ok().stdout();
        Matcher bs = BLOCK_SIZE.matcher(out);
        if (!bs.find()) {
            throw new AssertionError("no block size in filefrag's output:\n" + out);
        }
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

    /** Bytes allocated to {@code file} on disk ({@code st_blocks}), unwritten extents included. */
    public static long allocatedBytes(Path file, Path work) throws IOException, InterruptedException {
        return 512 * Long.parseLong(ExternalTool.run(work, 30, "stat", "-c", "%b", file.toString()).ok().stdout().trim());
    }
}
