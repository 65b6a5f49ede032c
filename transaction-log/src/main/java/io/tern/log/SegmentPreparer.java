package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps spare segment files ready ahead of the appender, so that rolling to a new segment is a
 * rename and never a file extension, a page fault or an ENOSPC in the middle of a record.
 *
 * <p>A spare is {@code spare-<n>}: a file of the segment size, fully written (zeros, or the
 * stale records of a recycled segment) and fdatasync'd, so its blocks are allocated and no
 * append into it changes the file's metadata. It is prepared as {@code spare-<n>.tmp} and renamed
 * only once synced, so a crash never leaves a half-written spare under a spare's name. Retention
 * recycles retired segments into spares by renaming them; stale records in them carry LSNs below
 * the segment's new first LSN and are never taken for live ones.
 *
 * <p>Spares are prepared on the preparer's own thread. When the appender needs one and none is
 * ready, it prepares one on its own thread ({@link #take}): slower, counted, never silent.
 * Thread contract: {@link #take} is the appender thread's, {@link #retire} the retention
 * caller's; both may run while the preparer thread works.
 */
final class SegmentPreparer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SegmentPreparer.class);
    private static final String PREFIX = "spare-";
    private static final int ZERO_CHUNK = 1 << 20;

    private final Path dir;
    private final long segmentSize;
    private final int target;
    private final boolean recycle;
    private final SpaceGuard space;
    private final String name;
    private final ConcurrentLinkedDeque<Path> ready = new ConcurrentLinkedDeque<>();
    private final AtomicLong counter = new AtomicLong();
    private final ExecutorService thread;
    private final AtomicLong preparedOnAppender = new AtomicLong();
    /** Spares retired but not offered yet (their rename is not durable yet). */
    private final java.util.concurrent.atomic.AtomicInteger pendingOffers = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean warnedNoSpace;

    SegmentPreparer(Path dir, long segmentSize, int target, boolean recycle, SpaceGuard space, String name)
            throws IOException {
        this.dir = dir;
        this.recycle = recycle;
        this.segmentSize = segmentSize;
        this.target = target;
        this.space = space;
        this.name = name;
        adoptExisting();
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(Mdc.resource(name, r), "tern-log-prepare-" + name);
            t.setDaemon(true);
            return t;
        });
        refill();
    }

    /** Whether a file name is one of the preparer's (a spare, or a spare being prepared). */
    static boolean isSpareName(String fileName) {
        return fileName.startsWith(PREFIX);
    }

    /** Spares left by an earlier run are used if they have the right size; half-made ones go. */
    private void adoptExisting() throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String f = p.getFileName().toString();
                if (!isSpareName(f)) {
                    continue;
                }
                long n = parseCounter(f);
                if (f.endsWith(".tmp") || n < 0 || Files.size(p) != segmentSize) {
                    Files.delete(p);
                    continue;
                }
                counter.accumulateAndGet(n + 1, Math::max);
                ready.add(p);
            }
        }
        DurableFiles.syncDirectory(dir);
    }

    private static long parseCounter(String f) {
        try {
            return Long.parseLong(f.substring(PREFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Asks the preparer thread to bring the spares up to the target. */
    private void refill() {
        try {
            thread.execute(() -> {
                while (ready.size() < target) {
                    try {
                        ready.add(prepare());
                        warnedNoSpace = false;
                    } catch (LogFullException e) {
                        if (!warnedNoSpace) {
                            warnedNoSpace = true;
                            log.warn("{}: cannot prepare a spare segment: {}", name, e.getMessage());
                        }
                        return; // tried again at the next take or retire
                    } catch (IOException | RuntimeException e) {
                        log.warn("{}: preparing a spare segment failed: {}", name, e.toString());
                        return;
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            // closing
        }
    }

    /**
     * A ready spare for the appender's next segment: one prepared ahead, or else one prepared now
     * on the caller's thread.
     *
     * @throws LogFullException if there is no room for another segment (nothing changes)
     */
    Path take() {
        Path p = ready.pollLast(); // the most recently retired first: recycled, and warm in the cache
        if (p == null) {
            preparedOnAppender.incrementAndGet();
            log.info("{}: no spare segment ready; preparing one on the appender thread", name);
            try {
                p = prepare();
            } catch (IOException e) {
                throw new LogFullException(name + ": cannot prepare a new log segment in " + dir + ": " + e);
            }
        }
        refill();
        return p;
    }

    /**
     * Takes a retired segment file: with recycling on ({@link LogConfig#recycleSegments}), renamed
     * into a spare while no more than the target are ready
     * (so that in a steady state retention feeds the appender and nothing is zeroed), deleted
     * otherwise. A spare made here is not offered yet: the caller syncs the folder first, then
     * {@link #offer}s it. Offered before, the appender could rename it again and write a new
     * segment into it while the folder still named it as the old segment on disk: a power cut then
     * left an old segment's name over new records.
     *
     * @return the spare to offer once the folder is synced, or {@code null} if the file was deleted
     */
    Path retire(Path segmentFile) throws IOException {
        if (recycle && ready.size() + pendingOffers.get() <= target && Files.size(segmentFile) == segmentSize) {
            Path spare = dir.resolve(PREFIX + counter.getAndIncrement());
            Files.move(segmentFile, spare, StandardCopyOption.ATOMIC_MOVE);
            pendingOffers.incrementAndGet();
            return spare;
        }
        Files.delete(segmentFile);
        return null;
    }

    /** Offers spares {@link #retire} made, once the folder that renamed them is synced. */
    void offer(java.util.List<Path> spares) {
        for (Path p : spares) {
            ready.add(p);
            pendingOffers.decrementAndGet();
        }
        refill();
    }

    /** Spare files made on the appender thread because none was ready (a sign the preparer lags). */
    long preparedOnAppender() {
        return preparedOnAppender.get();
    }

    private Path prepare() throws IOException {
        space.admit(segmentSize);
        long n = counter.getAndIncrement();
        Path tmp = dir.resolve(PREFIX + n + ".tmp");
        Path spare = dir.resolve(PREFIX + n);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocateDirect(ZERO_CHUNK);
            long pos = 0;
            while (pos < segmentSize) {
                zeros.clear().limit((int) Math.min(ZERO_CHUNK, segmentSize - pos));
                while (zeros.hasRemaining()) {
                    pos += ch.write(zeros, pos);
                }
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, spare, StandardCopyOption.ATOMIC_MOVE);
        DurableFiles.syncDirectory(dir);
        return spare;
    }

    /** Lets a spare being prepared finish (an interrupt would close its channel mid-write), then stops. */
    @Override
    public void close() {
        thread.shutdown();
        try {
            thread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
