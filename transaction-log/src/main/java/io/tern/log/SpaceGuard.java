package io.tern.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the log out of the last {@code reserve} bytes of its file system. Chronicle writes
 * through memory maps of sparse files: on a full file system a write does not fail, the page
 * fault does (SIGBUS), and the JVM reports it later as an {@link InternalError} in whatever that
 * thread runs next. So the appender asks here before each record and refuses it cleanly
 * instead.
 *
 * <p>The usable space is read from the file system every 10 ms, and before every record once
 * it is within twice the reserve; in between, what was admitted is subtracted from the last
 * reading. Whatever else writes to the file system between two readings eats into the reserve:
 * it takes another writer at 6 GB/s to get through 64 MiB in 10 ms. Thread contract: the
 * appender thread only.
 */
final class SpaceGuard {
    private static final long REFRESH_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final FileStore fileStore;
    private final Path directory;
    private final long reserve;
    private long usable;
    private long readAt;

    SpaceGuard(Path directory, long reserve) {
        this.directory = directory;
        this.reserve = reserve;
        try {
            this.fileStore = Files.getFileStore(directory);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        read();
    }

    /** The file system's usable bytes, read now. Any thread: it touches none of the guard's state. */
    long usableNow() throws IOException {
        return fileStore.getUsableSpace();
    }

    /** Takes {@code bytes} if that leaves the reserve free; otherwise refuses, with the reason. */
    void admit(long bytes) {
        if (reserve == 0) {
            return;
        }
        if (usable - bytes < 2 * reserve || System.nanoTime() - readAt > REFRESH_NANOS) {
            read();
        }
        if (usable - bytes < reserve) {
            throw new LogFullException("no space for the log in " + directory + ": " + usable + " bytes usable, "
                    + bytes + " needed and " + reserve + " kept in reserve");
        }
        usable -= bytes;
    }

    private void read() {
        try {
            usable = fileStore.getUsableSpace();
        } catch (IOException e) {
            usable = 0; // cannot tell: refuse rather than risk writing into a full file system
        }
        readAt = System.nanoTime();
    }
}
