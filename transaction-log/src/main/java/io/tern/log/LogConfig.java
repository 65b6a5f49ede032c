package io.tern.log;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Objects;

import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;

/**
 * Settings of one {@link TransactionLog}, validated once by {@link #conclude()}. Not thread-safe;
 * a concluded config must not be changed.
 */
public final class LogConfig {
    /** Room Chronicle needs around an excerpt inside its quarter-block limit (header, padding). */
    private static final int EXCERPT_OVERHEAD = 64 << 10;

    private Path directory;
    private String name;
    private RollCycle rollCycle = RollCycles.FIVE_MINUTELY;
    private Clock clock = Clock.systemUTC();
    private int ringSize = 1024;
    private long blockSize = 256L << 20;
    private long recoverFromLsn = 0;
    private long firstLsn = 1;
    private SyncObserver syncObserver = SyncObserver.NONE;
    private long reserve = 64L << 20;
    private int maxPayload;
    private boolean concluded;

    /** Folder holding the segments and the cut list; created if missing. */
    public LogConfig directory(Path directory) {
        this.directory = directory;
        return this;
    }

    /** Name used in thread names and messages; defaults to the folder's name. */
    public LogConfig name(String name) {
        this.name = name;
        return this;
    }

    /**
     * How long a segment spans (default five minutes). Chronicle rolls by the clock only, and
     * retention deletes whole segments, so a log holds at least a segment's worth of writes
     * whatever its members and checkpoint allow: with hourly segments that was an hour of the
     * primary's writes, on the primary and on every secondary.
     */
    public LogConfig rollCycle(RollCycle rollCycle) {
        this.rollCycle = rollCycle;
        return this;
    }

    /** The clock that decides segment rolls (a test seam: tests roll segments by moving it). */
    public LogConfig clock(Clock clock) {
        this.clock = clock;
        return this;
    }

    /** Slots in the append ring, a power of two: how many appends may be queued for the appender. */
    public LogConfig ringSize(int ringSize) {
        this.ringSize = ringSize;
        return this;
    }

    /**
     * Chronicle's mapping chunk size. Chronicle holds one excerpt within a quarter of it, so it
     * bounds the largest record: see {@link #maxPayload()}.
     */
    public LogConfig blockSize(long blockSize) {
        this.blockSize = blockSize;
        return this;
    }

    /**
     * Recovery verifies every record from this LSN on (the caller's checkpoint: records below it
     * are already applied and durable elsewhere). 0 = from the first record in the log.
     */
    public LogConfig recoverFromLsn(long lsn) {
        this.recoverFromLsn = lsn;
        return this;
    }

    /** LSN of the first record of a log that is empty when opened. */
    public LogConfig firstLsn(long lsn) {
        this.firstLsn = lsn;
        return this;
    }

    public LogConfig syncObserver(SyncObserver syncObserver) {
        this.syncObserver = syncObserver;
        return this;
    }

    /**
     * Free space the log leaves on its file system (default 64 MiB; 0: none). An append that
     * would eat into it fails with {@link LogFullException} and the log stays healthy; writing
     * into a full file system through Chronicle's memory maps would fault instead of failing.
     */
    public LogConfig reserve(long bytes) {
        this.reserve = bytes;
        return this;
    }

    /** Validates and freezes the settings. */
    public LogConfig conclude() {
        if (concluded) {
            return this;
        }
        Objects.requireNonNull(directory, "log directory is not set");
        Objects.requireNonNull(rollCycle, "rollCycle");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(syncObserver, "syncObserver");
        if (ringSize < 2 || Integer.bitCount(ringSize) != 1) {
            throw new IllegalArgumentException("ringSize must be a power of two >= 2, was " + ringSize);
        }
        if (blockSize < (1 << 20)) {
            throw new IllegalArgumentException("blockSize must be at least 1 MiB, was " + blockSize);
        }
        maxPayload = (int) Math.min(RecordCodec.MAX_PAYLOAD,
                blockSize / 4 - RecordCodec.HEADER_LENGTH - EXCERPT_OVERHEAD);
        if (reserve < 0) {
            throw new IllegalArgumentException("reserve must be >= 0, was " + reserve);
        }
        if (recoverFromLsn < 0) {
            throw new IllegalArgumentException("recoverFromLsn must be >= 0, was " + recoverFromLsn);
        }
        if (firstLsn < 1) {
            throw new IllegalArgumentException("firstLsn must be >= 1, was " + firstLsn);
        }
        if (name == null) {
            name = directory.getFileName().toString();
        }
        concluded = true;
        return this;
    }

    public Path directory() {
        return directory;
    }

    public long reserve() {
        return reserve;
    }

    public String name() {
        return name;
    }

    public RollCycle rollCycle() {
        return rollCycle;
    }

    public Clock clock() {
        return clock;
    }

    public int ringSize() {
        return ringSize;
    }

    public long blockSize() {
        return blockSize;
    }

    public long recoverFromLsn() {
        return recoverFromLsn;
    }

    public long firstLsn() {
        return firstLsn;
    }

    public SyncObserver syncObserver() {
        return syncObserver;
    }

    /** The largest payload one record of this log may carry (32 MiB with the default block size). */
    public int maxPayload() {
        return maxPayload;
    }
}
