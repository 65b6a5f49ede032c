package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.LockSupport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes and syncs zeros ahead of the append position of the current segment file, so that the
 * appender's syncs flush only data and not new block allocations (synced appends into pre-zeroed
 * space run about twice as fast as into a growing sparse file). The zeros are invisible to
 * Chronicle: a header of zero is what it reads past its last excerpt anyway.
 *
 * <p>The zeroer must never write where the appender writes. The appender publishes the end of
 * its next write ({@link #beforeWrite}) and then reads the start of the region being zeroed; the
 * zeroer publishes that start and then reads the appender's end. Both are volatile, so at least
 * one of them sees the other: either the zeroer gives the region up, or the appender waits for
 * it to finish.
 *
 * <p>Thread contract: {@link #beforeWrite} and {@link #switchTo} on the appender thread only; the
 * zeroing runs on its own thread. A zeroing error only stops the zeroing (logged): appends then
 * go into unzeroed space as they would without it.
 */
final class SegmentZeroer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SegmentZeroer.class);
    /** Room for what Chronicle writes beyond an excerpt (index arrays) besides the excerpt itself. */
    static final long SLACK = 1 << 20;
    private static final int STEP = 4 << 20;
    private static final long NONE = Long.MAX_VALUE;

    private final long ahead;
    private final String name;
    private final Thread thread;
    private final ByteBuffer zeros = ByteBuffer.allocateDirect(STEP);

    private volatile FileChannel file;
    private volatile long appendEnd;
    private volatile long zeroingFrom = NONE;
    private volatile long zeroedTo;
    private volatile boolean stopped;

    SegmentZeroer(long ahead, String name) {
        this.ahead = ahead;
        this.name = name;
        this.thread = new Thread(this::run, "tern-log-zero-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    /** The appender moved to a new segment file; zero ahead in that one from now on. */
    void switchTo(Path segment, long position) throws IOException {
        FileChannel old = file;
        file = null;
        awaitIdle();
        if (old != null) {
            old.close();
        }
        appendEnd = position;
        zeroedTo = position + SLACK;
        file = FileChannel.open(segment, StandardOpenOption.WRITE);
        LockSupport.unpark(thread);
    }

    /**
     * Called before the appender writes {@code [position, end)}: waits if that range reaches a
     * region being zeroed right now (rare: only when appends outrun the zeroing).
     */
    void beforeWrite(long end) {
        appendEnd = end;
        while (end + SLACK > zeroingFrom) {
            Thread.onSpinWait();
        }
        if (end + ahead / 2 > zeroedTo && !stopped) {
            LockSupport.unpark(thread);
        }
    }

    private void awaitIdle() {
        while (zeroingFrom != NONE) {
            Thread.onSpinWait();
        }
    }

    private void run() {
        while (!stopped) {
            FileChannel f = file;
            long from = zeroedTo;
            if (f == null || from >= appendEnd + ahead) {
                LockSupport.parkNanos(50_000_000L);
                continue;
            }
            zeroingFrom = from;
            if (from < appendEnd + SLACK) {
                // The appender got here first: skip past it.
                zeroingFrom = NONE;
                zeroedTo = appendEnd + SLACK;
                continue;
            }
            try {
                zeros.clear();
                while (zeros.hasRemaining()) {
                    f.write(zeros, from + zeros.position());
                }
                f.force(false);
                if (file == f) {
                    zeroedTo = from + STEP;
                }
            } catch (IOException e) {
                if (file == f) {
                    log.warn("{}: zeroing segment space ahead of the log stopped: {}", name, e.toString());
                    stopped = true;
                }
            } finally {
                zeroingFrom = NONE;
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        LockSupport.unpark(thread);
        try {
            thread.join(10_000);
            FileChannel f = file;
            if (f != null) {
                f.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            log.warn("{}: closing zeroer: {}", name, e.toString());
        }
    }
}
