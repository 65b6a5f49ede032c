package io.tern.block.file;

/** What a {@link FileBlockDevice} does with a trim (which NBD makes advisory). */
public enum TrimStrategy {
    /** {@code fallocate(PUNCH_HOLE | KEEP_SIZE)} over the whole 4 KiB blocks of the range. */
    PUNCH_HOLE,
    /** The file system cannot punch holes: trims are checked and then do nothing. */
    NONE
}
