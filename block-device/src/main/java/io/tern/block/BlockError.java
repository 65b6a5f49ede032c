package io.tern.block;

/** Why a block request failed, as errno values, which is what NBD puts on the wire. */
public enum BlockError {
    /** The device is read-only (a secondary's export). */
    EPERM(1),
    /** The backing store or the log failed. */
    EIO(5),
    /** Out of memory for this request. */
    ENOMEM(12),
    /** Bad offset, length or flags. */
    EINVAL(22),
    /** Write past the end of the device, or the disk is full. */
    ENOSPC(28),
    /** Request larger than the device accepts. */
    EOVERFLOW(75),
    /** Operation not supported by this device. */
    ENOTSUP(95),
    /** The device is shutting down. */
    ESHUTDOWN(108);

    private final int errno;

    BlockError(int errno) {
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
