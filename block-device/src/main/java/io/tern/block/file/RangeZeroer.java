package io.tern.block.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import com.sun.jna.LastErrorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Zeroes and trims ranges of a {@link FileBlockDevice}'s file without writing data, with
 * {@code fallocate(2)} on a descriptor of its own (Java has no fallocate; any descriptor of a
 * file acts on the file, and the device's {@link FileChannel} does not expose its own).
 *
 * <p>fallocate is given whole 4 KiB blocks: the partial blocks at either end of a request (under
 * 4 KiB each) are written with zeros, or skipped by a trim, because a raw block device refuses
 * an unaligned range with EINVAL, which would read as "mode not supported".
 *
 * <p>A mode the file system refuses (EOPNOTSUPP, EINVAL, ENOSYS, ENODEV: tmpfs has no
 * ZERO_RANGE, ramfs has no fallocate at all) is dropped for the device's lifetime: zeroing falls
 * back to PUNCH_HOLE, then to writing zeros; trimming to nothing. The request that finds out logs
 * one WARN naming the modes refused, the errno, and what zeroes and trims do from then on. Any
 * other errno fails the request.
 *
 * <p>Thread-safe. The descriptor is used and closed under this object's lock, so a call never
 * reaches a descriptor number that {@link #close()} released and the kernel gave to another file.
 */
final class RangeZeroer implements AutoCloseable {
    /** The unit given to fallocate: a multiple of every logical block size (512, 4096). */
    static final int BLOCK = 4096;
    private static final Logger log = LoggerFactory.getLogger(FileBlockDevice.class);
    /** Shared and read-only: every writer takes a duplicate, so no copy of zeros is per request. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private enum Mode {
        ZERO_RANGE(Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE),
        PUNCH_HOLE(Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE);

        final int flags;

        Mode(int flags) {
            this.flags = flags;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final Libc libc;
    private final AtomicBoolean zeroRange = new AtomicBoolean(true);
    private final AtomicBoolean punchHole = new AtomicBoolean(true);
    private int fd; // guarded by this; -1 for a read-only device
    private boolean closed; // guarded by this

    private RangeZeroer(Path path, FileChannel channel, Libc libc, int fd) {
        this.path = path;
        this.channel = channel;
        this.libc = libc;
        this.fd = fd;
    }

    /**
     * A zeroer for the file at {@code path}, open as {@code channel}. A writable device gets a
     * libc descriptor ({@code O_RDWR | O_CLOEXEC}) that this zeroer owns.
     *
     * @throws IOException the file cannot be opened a second time (it was just opened once)
     */
    static RangeZeroer open(Path path, FileChannel channel, boolean writable) throws IOException {
        if (!writable) {
            return new RangeZeroer(path, channel, null, -1);
        }
        Libc libc;
        int fd;
        try {
            libc = LibcHolder.load();
            fd = libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException(path + ": cannot open a descriptor for fallocate: " + describe(e), e);
        } catch (LinkageError e) {
            // No JNA dispatch library or no libc (not Linux): correct, only slower.
            RangeZeroer z = new RangeZeroer(path, channel, null, -1);
            z.zeroRange.set(false);
            z.punchHole.set(false);
            log.warn("{}: fallocate cannot be called ({}): write-zeroes writes zeros, 1 MiB at a time, and trim does"
                    + " nothing", path, e.toString());
            return z;
        }
        return new RangeZeroer(path, channel, libc, fd);
    }

    ZeroStrategy zeroStrategy() {
        return zeroRange.get() ? ZeroStrategy.ZERO_RANGE : punchHole.get() ? ZeroStrategy.PUNCH_HOLE : ZeroStrategy.WRITE;
    }

    TrimStrategy trimStrategy() {
        return punchHole.get() ? TrimStrategy.PUNCH_HOLE : TrimStrategy.NONE;
    }

    /** Makes {@code [offset, offset + length)} read as zeros, by the best mode the file system takes. */
    void zero(long offset, long length) throws IOException {
        long end = offset + length;
        long first = roundUp(offset);
        long last = end & -BLOCK;
        if (first >= last) {
            writeZeros(channel, offset, length);
            return;
        }
        writeZeros(channel, offset, first - offset);
        List<String> refused = new ArrayList<>(2);
        boolean done = zeroRange.get() && fallocate(Mode.ZERO_RANGE, first, last - first, refused);
        done = done || (punchHole.get() && fallocate(Mode.PUNCH_HOLE, first, last - first, refused));
        warnIfRefused(refused);
        if (!done) {
            writeZeros(channel, first, last - first);
        }
        writeZeros(channel, last, end - last);
    }

    /** Frees the whole blocks of {@code [offset, offset + length)}, if the file system can. */
    void trim(long offset, long length) throws IOException {
        long first = roundUp(offset);
        long last = (offset + length) & -BLOCK;
        if (first < last && punchHole.get()) {
            List<String> refused = new ArrayList<>(1);
            fallocate(Mode.PUNCH_HOLE, first, last - first, refused);
            warnIfRefused(refused);
        }
    }

    /** Writes zeros with {@code pwrite}, 1 MiB at a time. */
    static void writeZeros(FileChannel channel, long offset, long length) throws IOException {
        for (long pos = offset, end = offset + length; pos < end; ) {
            ByteBuffer z = ZEROS.duplicate();
            z.limit((int) Math.min(z.capacity(), end - pos));
            pos += channel.write(z, pos);
        }
    }

    /**
     * True when done; false when the file system refuses {@code mode}, which is now dropped (and
     * added to {@code refused} with the reason, unless another request dropped it first).
     */
    private boolean fallocate(Mode mode, long offset, long length, List<String> refused) throws IOException {
        try {
            synchronized (this) {
                if (closed || fd < 0) {
                    throw new IOException(closed ? "the device is closed" : "the device is open read-only");
                }
                while (true) {
                    try {
                        libc.fallocate(fd, mode.flags, offset, length);
                        return true;
                    } catch (LastErrorException e) {
                        if (e.getErrorCode() != Libc.EINTR) {
                            throw e;
                        }
                    }
                }
            }
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno != Libc.EOPNOTSUPP && errno != Libc.EINVAL && errno != Libc.ENOSYS && errno != Libc.ENODEV) {
                // The message keeps strerror's text: FileBlockDevice maps "No space left" to ENOSPC.
                throw new IOException("fallocate(" + mode + ") of " + length + " bytes failed: " + describe(e), e);
            }
            drop(mode, describe(e), refused);
            return false;
        } catch (UnsatisfiedLinkError e) {
            drop(mode, "libc has no fallocate: " + e.getMessage(), refused); // not Linux
            return false;
        }
    }

    private void drop(Mode mode, String why, List<String> refused) {
        AtomicBoolean supported = mode == Mode.ZERO_RANGE ? zeroRange : punchHole;
        if (supported.compareAndSet(true, false)) {
            refused.add(mode + " (" + why + ")");
        }
    }

    private void warnIfRefused(List<String> refused) {
        if (refused.isEmpty()) {
            return;
        }
        ZeroStrategy zero = zeroStrategy();
        TrimStrategy trim = trimStrategy();
        log.warn("{}: the file system refuses fallocate {}: from now on write-zeroes {} and trim {}{}", path,
                String.join(" and ", refused),
                zero == ZeroStrategy.ZERO_RANGE ? "uses ZERO_RANGE"
                        : zero == ZeroStrategy.PUNCH_HOLE ? "punches holes (reads back as zeros; later writes there allocate again)"
                        : "writes zeros, 1 MiB at a time (slow for large ranges)",
                trim == TrimStrategy.PUNCH_HOLE ? "punches holes" : "does nothing (trim is advisory)",
                zero == ZeroStrategy.WRITE ? "; keep device files on ext4 or xfs to zero and trim without writing data" : "");
    }

    private static String describe(LastErrorException e) {
        // JNA's message is "[errno] strerror"; keep the text once.
        String text = String.valueOf(e.getMessage());
        int bracket = text.startsWith("[") ? text.indexOf("] ") : -1;
        return "errno " + e.getErrorCode() + ", " + (bracket > 0 ? text.substring(bracket + 2) : text);
    }

    private static long roundUp(long offset) {
        return (offset + BLOCK - 1) & -BLOCK;
    }

    /** Closes the descriptor; idempotent. */
    @Override
    public void close() throws IOException {
        int toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = fd;
        }
        if (toClose >= 0) {
            try {
                libc.close(toClose);
            } catch (LastErrorException e) {
                throw new IOException("closing the fallocate descriptor failed: " + describe(e), e);
            }
        }
    }

    /** libc, loaded once per JVM on first use. */
    private static final class LibcHolder {
        private static final Libc LIBC;
        private static final LinkageError FAILURE;

        static {
            Libc libc = null;
            LinkageError failure = null;
            try {
                libc = Libc.load();
            } catch (LinkageError e) {
                failure = e;
            }
            LIBC = libc;
            FAILURE = failure;
        }

        static Libc load() {
            if (FAILURE != null) {
                throw FAILURE;
            }
            return LIBC;
        }
    }
}
