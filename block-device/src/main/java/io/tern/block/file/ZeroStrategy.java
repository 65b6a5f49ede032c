package io.tern.block.file;

/**
 * How a {@link FileBlockDevice} makes a range read as zeros, best first. A device starts with
 * {@link #ZERO_RANGE} and moves down, once and for good, when its file system refuses a mode.
 */
public enum ZeroStrategy {
    /**
     * {@code fallocate(ZERO_RANGE | KEEP_SIZE)}: the range becomes unwritten extents, without
     * writing data. The space stays allocated, so later writes there cannot meet a full disk.
     */
    ZERO_RANGE,
    /**
     * {@code fallocate(PUNCH_HOLE | KEEP_SIZE)}: the range's blocks are freed and read as zeros.
     * Later writes there allocate again and may meet a full disk.
     */
    PUNCH_HOLE,
    /** The file system has neither mode: zeros are written, 1 MiB at a time. */
    WRITE
}
