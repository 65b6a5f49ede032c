package io.tern.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the log out of the last {@code reserve} bytes of its file system. Records are written
 * into segments allocated ahead, so a record never meets a full disk; the space is taken when a
 * spare segment is prepared, and that is where this guard is asked. Refusing there keeps room on
 * the file system for the backing store, the links and the checkpoint, whose writes cannot be
 * refused as cleanly.
 *
 * <p>The usable space is read from the file system every 10 ms, and at every request once it is
 * within twice the reserve; in between, what was admitted is subtracted from the last reading.
 * Thread contract: {@link #admit} is synchronized (the preparer thread and, when it lags, the
 * appender thread); {@link #usableNow} may be called from any thread.
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
    synchronized void admit(long bytes) {
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
