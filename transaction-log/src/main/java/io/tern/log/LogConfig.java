package io.tern.log;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of one {@link TransactionLog}, validated once by {@link #conclude()}. Not thread-safe;
 * a concluded config must not be changed.
 */
public final class LogConfig {
    /** The default segment size: 64 MiB. */
    public static final long DEFAULT_SEGMENT_SIZE = 64L << 20;
    /** The smallest segment size: 1 MiB. */
    public static final long MIN_SEGMENT_SIZE = 1L << 20;

    private Path directory;
    private String name;
    private long segmentSize = DEFAULT_SEGMENT_SIZE;
    private int spareSegments = 1;
    private boolean replica;
    private boolean recycleSegments = true;
    private int ringSize = 1024;
    private long recoverFromLsn = 0;
    private long firstLsn = 1;
    private SyncObserver syncObserver = SyncObserver.NONE;
    private CommitListener commitListener = CommitListener.NONE;
    private long reserve = 64L << 20;
    private int maxPayload;
    private boolean concluded;

    /** Folder holding the segment files and spares; created if missing. */
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
     * Size of each segment file (default 64 MiB; a multiple of 4 KiB, at least 1 MiB). Retention
     * deletes whole segments, so a log holds at least one segment's worth of records; a record
     * must fit in one segment, which bounds {@link #maxPayload()}. Applies to segments created
     * from now on; existing ones keep their size.
     */
    public LogConfig segmentSize(long bytes) {
        this.segmentSize = bytes;
        return this;
    }

    /** How many spare segments to keep prepared ahead of the appender (default 1). */
    public LogConfig spareSegments(int count) {
        this.spareSegments = count;
        return this;
    }

    /**
     * Whether retired segments are recycled as spares instead of deleted (default true): in a
     * steady state retention feeds the appender and no segment is zeroed. Off, every spare is
     * a newly zeroed file.
     */
    public LogConfig recycleSegments(boolean recycle) {
        this.recycleSegments = recycle;
        return this;
    }

    public boolean recycleSegments() {
        return recycleSegments;
    }

    /**
     * Whether this log holds a primary's records as they were (a secondary's log). Their
     * committed fields speak of the primary's syncs, so recovery does not take them as proof
     * that a bad record was durable here: a bad tail is cut and fetched again.
     */
    public LogConfig replica(boolean replica) {
        this.replica = replica;
        return this;
    }

    /** Slots in the append ring, a power of two: how many appends may be queued for the appender. */
    public LogConfig ringSize(int ringSize) {
        this.ringSize = ringSize;
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

    /** Told of every group commit: records per sync and the sync's duration (metrics). Default: none. */
    public LogConfig commitListener(CommitListener commitListener) {
        this.commitListener = commitListener;
        return this;
    }

    /**
     * Free space the log leaves on its file system (default 64 MiB; 0: none). An append that
     * would need a new segment that eats into it fails with {@link LogFullException} and the log
     * stays healthy.
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
        Objects.requireNonNull(syncObserver, "syncObserver");
        Objects.requireNonNull(commitListener, "commitListener");
        if (ringSize < 2 || Integer.bitCount(ringSize) != 1) {
            throw new IllegalArgumentException("ringSize must be a power of two >= 2, was " + ringSize);
        }
        if (segmentSize < MIN_SEGMENT_SIZE || segmentSize % 4096 != 0) {
            throw new IllegalArgumentException("segmentSize must be a multiple of 4 KiB of at least 1 MiB, was "
                    + segmentSize);
        }
        if (spareSegments < 1) {
            throw new IllegalArgumentException("spareSegments must be >= 1, was " + spareSegments);
        }
        maxPayload = (int) Math.min(RecordCodec.MAX_PAYLOAD,
                segmentSize - Segment.HEADER_LENGTH - RecordCodec.HEADER_LENGTH);
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

    public long segmentSize() {
        return segmentSize;
    }

    public int spareSegments() {
        return spareSegments;
    }

    public boolean replica() {
        return replica;
    }

    public int ringSize() {
        return ringSize;
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

    public CommitListener commitListener() {
        return commitListener;
    }

    /** The largest payload one record of this log may carry (32 MiB, less when segments are smaller). */
    public int maxPayload() {
        return maxPayload;
    }
}
