package io.tern.block.logged;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

import io.tern.block.BlockDevice;
import io.tern.log.LogConfig;

/** Settings of a {@link LoggedDevice}, validated once by {@link #conclude()}. */
public final class LoggedDeviceConfig {
    private BlockDevice backing;
    private LogConfig log;
    private Path checkpointFile;
    private Path activityLogFile;
    private int activityLogExtents = 1024;
    private long epoch = 1;
    private Duration checkpointInterval = Duration.ofSeconds(5);
    private java.util.function.LongSupplier retainFrom = () -> Long.MAX_VALUE;
    private Durability durability = Durability.SYNC;
    private Duration syncInterval = Duration.ofSeconds(1);
    private boolean concluded;

    /** The backing store the log's records are applied to; the device owns it from open on. */
    public LoggedDeviceConfig backing(BlockDevice backing) {
        this.backing = backing;
        return this;
    }

    /** The log's settings; its recovery point is set by the device from its checkpoint. */
    public LoggedDeviceConfig log(LogConfig log) {
        this.log = log;
        return this;
    }

    public LoggedDeviceConfig checkpointFile(Path checkpointFile) {
        this.checkpointFile = checkpointFile;
        return this;
    }

    /**
     * Flush mode's activity log (default: {@code activity} beside the checkpoint file). Read on
     * open in any mode: a device that last ran in flush mode re-logs what it names.
     */
    public LoggedDeviceConfig activityLogFile(Path file) {
        this.activityLogFile = file;
        return this;
    }

    /**
     * How many 4 MiB extents the activity log holds at most (default 1024: 4 GiB of hot writes).
     * When every extent in it still has unsynced writes, a new extent waits for a log sync.
     */
    public LoggedDeviceConfig activityLogExtents(int extents) {
        this.activityLogExtents = extents;
        return this;
    }

    /** The epoch stamped on the records this device writes. */
    public LoggedDeviceConfig epoch(long epoch) {
        this.epoch = epoch;
        return this;
    }

    /** How often the backing store is synced and the checkpoint moved. */
    public LoggedDeviceConfig checkpointInterval(Duration interval) {
        this.checkpointInterval = interval;
        return this;
    }

    public LoggedDeviceConfig durability(Durability durability) {
        this.durability = durability;
        return this;
    }

    /** In {@link Durability#FLUSH} mode, how long a written but unflushed write may stay unsynced at most. */
    public LoggedDeviceConfig syncInterval(Duration syncInterval) {
        this.syncInterval = syncInterval;
        return this;
    }

    /**
     * The lowest LSN that others still need from the log, asked at every checkpoint: segments
     * wholly below both it and the checkpoint are deleted. A standalone device needs nothing
     * (the default, {@code Long.MAX_VALUE}); a replicated primary passes its members' lowest
     * position; {@code () -> 0} keeps the whole log.
     */
    public LoggedDeviceConfig retainFrom(java.util.function.LongSupplier retainFrom) {
        this.retainFrom = Objects.requireNonNull(retainFrom, "retainFrom");
        return this;
    }

    public LoggedDeviceConfig conclude() {
        if (concluded) {
            return this;
        }
        Objects.requireNonNull(backing, "backing device is not set");
        Objects.requireNonNull(log, "log config is not set");
        Objects.requireNonNull(checkpointFile, "checkpoint file is not set");
        if (activityLogFile == null) {
            activityLogFile = checkpointFile.resolveSibling("activity");
        }
        if (activityLogExtents < 1) {
            throw new IllegalArgumentException("activityLogExtents must be >= 1, was " + activityLogExtents);
        }
        if (epoch < 1) {
            throw new IllegalArgumentException("epoch must be >= 1, was " + epoch);
        }
        Objects.requireNonNull(durability, "durability");
        if (syncInterval.isNegative() || syncInterval.isZero()) {
            throw new IllegalArgumentException("sync interval must be positive, was " + syncInterval);
        }
        if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
            throw new IllegalArgumentException("checkpoint interval must be positive, was " + checkpointInterval);
        }
        concluded = true;
        return this;
    }

    public BlockDevice backing() {
        return backing;
    }

    public LogConfig log() {
        return log;
    }

    public Path checkpointFile() {
        return checkpointFile;
    }

    public Path activityLogFile() {
        return activityLogFile;
    }

    public int activityLogExtents() {
        return activityLogExtents;
    }

    public long epoch() {
        return epoch;
    }

    public Duration checkpointInterval() {
        return checkpointInterval;
    }

    public Durability durability() {
        return durability;
    }

    public Duration syncInterval() {
        return syncInterval;
    }

    public java.util.function.LongSupplier retainFrom() {
        return retainFrom;
    }
}
