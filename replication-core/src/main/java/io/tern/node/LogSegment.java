package io.tern.node;

import io.tern.log.LogConfig;

/**
 * The size of a resource's log segment files ({@code tern create|join --log-segment}). Retention
 * deletes (or recycles) whole segments, so a log holds at least one segment of writes: smaller
 * segments bound the log's disk use more tightly, larger ones cost fewer files and rolls. Each
 * segment is prepared (allocated and zeroed) ahead of the writer.
 */
public record LogSegment(long bytes) {
    public static final LogSegment DEFAULT = new LogSegment(LogConfig.DEFAULT_SEGMENT_SIZE);

    public LogSegment {
        if (bytes < LogConfig.MIN_SEGMENT_SIZE || bytes % 4096 != 0) {
            throw new IllegalArgumentException("log segment size " + bytes + " must be a multiple of 4 KiB of at least "
                    + "1 MiB (examples: 16M, 64M, 256M)");
        }
    }

    /** Parses {@code 64M}, {@code 1G}, {@code 67108864}. */
    public static LogSegment parse(String size) {
        return new LogSegment(Sizes.parse(size));
    }

    /** How it is written in {@code resource.properties}: bytes. */
    public String label() {
        return Long.toString(bytes);
    }
}
