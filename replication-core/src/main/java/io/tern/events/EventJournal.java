package io.tern.events;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Stream;

import io.tern.node.Json;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's event journal ({@code events/} in its home): a Chronicle Queue of small JSON
 * excerpts, one per {@link Event}, rolled daily and pruned after the retention time. Any number
 * of readers ({@code tern events}, in other processes) replay it or follow it live.
 *
 * <p>{@link #record} never blocks and never fails the caller: events go through a bounded
 * in-memory queue to one writer thread, which alone touches the Chronicle appender. A journal
 * that cannot keep up drops events and counts them ({@link #dropped()}); one whose files fail
 * logs the failure once and keeps the node serving. A queue file left mid-excerpt by a
 * {@code kill -9} is recovered by Chronicle on the next append, on the writer thread.
 */
public final class EventJournal implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventJournal.class);
    /** The folder of a node home that holds the journal. */
    public static final String DIR = "events";
    /** How long events are kept unless {@code node.properties} says otherwise. */
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    private static final int PENDING = 10_000;
    private static final long BLOCK_SIZE = 1L << 20;
    private static final Event STOP = new Event(Instant.EPOCH, "-", null, null, "stop", null, null, null);

    private final Path dir;
    private final Duration retention;
    private final ChronicleQueue queue;
    private final BlockingQueue<Event> pending = new ArrayBlockingQueue<>(PENDING);
    private final AtomicLong written = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final Thread writer;
    private volatile boolean failed;

    private EventJournal(Path dir, Duration retention) {
        this.dir = dir;
        this.retention = retention;
        this.queue = ChronicleQueue.singleBuilder(dir).rollCycle(RollCycles.FAST_DAILY).blockSize(BLOCK_SIZE).build();
        this.writer = new Thread(this::writeLoop, "tern-events");
        this.writer.setDaemon(true);
    }

    /** Opens (making it if needed) the journal in {@code dir} and starts its writer. */
    public static EventJournal open(Path dir, Duration retention) throws IOException {
        Files.createDirectories(dir);
        EventJournal j = new EventJournal(dir, retention);
        j.writer.start();
        return j;
    }

    /** Queues the event for the journal; never blocks. */
    public void record(Event e) {
        if (!pending.offer(e)) {
            if (dropped.getAndIncrement() == 0) {
                log.warn("event journal {} cannot keep up: events are dropped (counted in tern_events_dropped)", dir);
            }
        }
    }

    /** Events written so far by this process. */
    public long written() {
        return written.get();
    }

    /** Events dropped because the writer could not keep up or failed. */
    public long dropped() {
        return dropped.get();
    }

    private void writeLoop() {
        ExcerptAppender appender = null;
        try {
            while (true) {
                Event e = pending.take();
                if (e == STOP) {
                    return;
                }
                if (failed) {
                    dropped.incrementAndGet();
                    continue;
                }
                try {
                    if (appender == null) {
                        appender = queue.createAppender();
                    }
                    appender.writeText(Json.line(e.toMap()));
                    written.incrementAndGet();
                } catch (RuntimeException ex) {
                    failed = true;
                    dropped.incrementAndGet();
                    log.error("event journal {} failed; events are no longer kept until the node restarts: {}", dir,
                            ex.toString(), ex);
                }
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        } finally {
            if (appender != null) {
                appender.close();
            }
        }
    }

    /**
     * Deletes the journal's files that hold only events older than the retention time (by
     * their last change), never the newest one. Returns how many went.
     */
    public int prune(Instant now) {
        Instant before = now.minus(retention);
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".cq4")).sorted().toList();
        } catch (IOException e) {
            log.warn("cannot list event journal {}: {}", dir, e.toString());
            return 0;
        }
        int deleted = 0;
        for (Path f : files.subList(0, Math.max(0, files.size() - 1))) {
            try {
                if (Files.getLastModifiedTime(f).toInstant().isBefore(before)) {
                    Files.delete(f);
                    deleted++;
                }
            } catch (IOException e) {
                log.warn("cannot delete old event journal file {}: {}", f, e.toString());
            }
        }
        if (deleted > 0) {
            queue.refreshDirectoryListing();
            log.info("event journal: {} files older than {} deleted", deleted, retention);
        }
        return deleted;
    }

    /** Writes what is queued, stops the writer and closes the files. */
    @Override
    public void close() {
        try {
            pending.put(STOP);
            writer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (writer.isAlive()) {
            writer.interrupt();
        }
        queue.close();
    }

    /**
     * Reads the journal in {@code dir} (another process may be writing it) from the first event
     * at or after {@code since}, giving each to {@code sink}; with {@code follow}, keeps waiting
     * for new events until {@code stop} says so. Excerpts that are not events are skipped.
     *
     * @return the number of events given
     * @throws IOException if {@code dir} holds no journal
     */
    public static long read(Path dir, Instant since, boolean follow, BooleanSupplier stop, Consumer<Event> sink)
            throws IOException, InterruptedException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("no event journal at " + dir + " (the node has not run since events were added)");
        }
        long given = 0;
        try (ChronicleQueue q = ChronicleQueue.singleBuilder(dir).rollCycle(RollCycles.FAST_DAILY).blockSize(BLOCK_SIZE)
                .readOnly(true).build();
             ExcerptTailer tailer = q.createTailer()) {
            long idle = 1;
            while (!stop.getAsBoolean()) {
                String text = tailer.readText();
                if (text == null) {
                    if (!follow) {
                        return given;
                    }
                    Thread.sleep(idle); // a tailer polls; back off to 50 ms while nothing comes
                    idle = Math.min(50, idle * 2);
                    q.refreshDirectoryListing();
                    continue;
                }
                idle = 1;
                Event e;
                try {
                    e = Event.fromMap((Map<?, ?>) Json.parse(text));
                } catch (IllegalArgumentException | ClassCastException bad) {
                    continue;
                }
                if (since == null || !e.time().isBefore(since)) {
                    sink.accept(e);
                    given++;
                }
            }
        }
        return given;
    }
}
