package io.tern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real, small file system for full-disk tests: a tmpfs of a given size mounted at a folder
 * (the tests run as root, as the build machines do). A failing mount fails the test; it is
 * never skipped. {@link #close()} unmounts; the folder stays for the reader.
 */
public final class SmallFileSystem implements AutoCloseable {
    private final Path mountPoint;

    private SmallFileSystem(Path mountPoint) {
        this.mountPoint = mountPoint;
    }

    public static SmallFileSystem mount(Path mountPoint, long bytes) throws IOException, InterruptedException {
        Files.createDirectories(mountPoint);
        ExternalTool.run(mountPoint.getParent(), 30, "mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs",
                mountPoint.toString()).ok();
        return new SmallFileSystem(mountPoint);
    }

    public Path path() {
        return mountPoint;
    }

    /** Bytes a new file could still take. */
    public long usable() throws IOException {
        return Files.getFileStore(mountPoint).getUsableSpace();
    }

    /** Fills all but {@code leave} bytes with a file and returns it (delete it to free the space). */
    public Path fillLeaving(long leave) throws IOException {
        Path filler = mountPoint.resolve("filler");
        long n = Math.max(0, usable() - leave);
        byte[] mib = new byte[1 << 20];
        try (var out = Files.newOutputStream(filler)) {
            for (long left = n; left > 0; left -= mib.length) {
                out.write(mib, 0, (int) Math.min(mib.length, left));
            }
        }
        return filler;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        ExternalTool.run(mountPoint.getParent(), 30, "umount", "-l", mountPoint.toString()).ok();
    }
}
