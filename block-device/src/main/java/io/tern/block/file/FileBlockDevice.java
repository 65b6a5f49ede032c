package io.tern.block.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;

import com.sun.jna.LastErrorException;
import io.tern.block.BlockDevice;
import io.tern.block.BlockDeviceException;
import io.tern.block.BlockError;

/**
 * A block device on a regular file or an existing raw device path, with positional I/O
 * ({@code pread}/{@code pwrite}) on the caller's thread: futures are complete when returned, so
 * callers on an event loop must hand requests to a thread that may block.
 * Flush and FUA are {@code fdatasync}. Write-zeroes and trim never write the range's data: they
 * are {@code fallocate} calls ({@link #zeroStrategy()}, {@link #trimStrategy()}; see
 * {@link RangeZeroer} for the fallbacks where the file system lacks a mode).
 * Thread-safe: positional I/O needs no lock.
 */
public final class FileBlockDevice implements BlockDevice {
    private final Path path;
    private final FileChannel channel;
    private final RangeZeroer zeroer;
    private final long size;
    private final boolean readOnly;

    private FileBlockDevice(Path path, FileChannel channel, RangeZeroer zeroer, long size, boolean readOnly) {
        this.path = path;
        this.channel = channel;
        this.zeroer = zeroer;
        this.size = size;
        this.readOnly = readOnly;
    }

    /**
     * Creates a file of {@code size} bytes (it must not exist) and syncs it. When
     * {@code preallocate}, every block is allocated now, so later writes never meet a full disk:
     * with {@code fallocate(2)} (instant; the blocks read as zeros), or where the file system
     * cannot, by writing zeros. Otherwise the file is sparse and blocks are allocated as written.
     *
     * @throws IOException the file exists, or the file system has no room for {@code size} bytes
     *                     (nothing is left behind)
     */
    public static FileBlockDevice create(Path path, long size, boolean preallocate) throws IOException {
        if (size <= 0) {
            throw new IllegalArgumentException("device size must be positive, was " + size);
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            if (preallocate) {
                preallocate(path, ch, size);
            } else {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
            ch.force(true);
            return new FileBlockDevice(path, ch, RangeZeroer.open(path, ch, true), size, false);
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(path);
            throw e;
        }
    }

    /**
     * Allocates {@code [0, size)} of the new, empty file: {@code fallocate} mode 0 on a descriptor
     * of its own (Java has none), else zeros written 1 MiB at a time.
     */
    private static void preallocate(Path path, FileChannel ch, long size) throws IOException {
        Libc libc;
        try {
            libc = Libc.load();
        } catch (LinkageError e) {
            RangeZeroer.writeZeros(ch, 0, size); // no JNA or no libc (not Linux): correct, only slower
            return;
        }
        int fd;
        try {
            fd = libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException(path + ": cannot open a descriptor for fallocate: errno " + e.getErrorCode(), e);
        }
        try {
            while (true) {
                try {
                    libc.fallocate(fd, Libc.FALLOC_ALLOCATE, 0, size);
                    return;
                } catch (LastErrorException e) {
                    int errno = e.getErrorCode();
                    if (errno == Libc.EINTR) {
                        continue;
                    }
                    if (errno == Libc.ENOSPC) {
                        throw new IOException(path + ": No space left on device for " + size + " bytes (preallocating "
                                + "the backing store); free space, choose another --data, or create it --sparse", e);
                    }
                    if (errno != Libc.EOPNOTSUPP && errno != Libc.ENOSYS && errno != Libc.EINVAL
                            && errno != Libc.ENODEV) {
                        throw new IOException(path + ": fallocate of " + size + " bytes failed: errno " + errno + ", "
                                + e.getMessage(), e);
                    }
                    break; // the file system cannot allocate without writing
                } catch (UnsatisfiedLinkError e) {
                    break; // libc without fallocate: not Linux
                }
            }
        } finally {
            try {
                libc.close(fd);
            } catch (LastErrorException e) {
                // only a descriptor to call fallocate on; the channel is what the device keeps
            }
        }
        RangeZeroer.writeZeros(ch, 0, size);
    }

    /** Opens an existing file or raw device; its size is its length. */
    public static FileBlockDevice open(Path path, boolean readOnly) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "device backing file does not exist");
        }
        FileChannel ch = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        // size() is fstat's st_size, 0 for a block device; the end offset works for both.
        long size = ch.size();
        if (size == 0) {
            try (var raf = new java.io.RandomAccessFile(path.toFile(), "r")) {
                size = raf.length();
            }
        }
        try {
            return new FileBlockDevice(path, ch, RangeZeroer.open(path, ch, !readOnly), size, readOnly);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** How write-zeroes makes ranges read as zeros now; it only ever moves to a lesser strategy. */
    public ZeroStrategy zeroStrategy() {
        return zeroer.zeroStrategy();
    }

    /** What a trim does now; it only ever moves to {@link TrimStrategy#NONE}. */
    public TrimStrategy trimStrategy() {
        return zeroer.trimStrategy();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public boolean canFlush() {
        return true;
    }

    @Override
    public boolean canFua() {
        return true;
    }

    @Override
    public boolean canTrim() {
        return true;
    }

    @Override
    public boolean canZero() {
        return true;
    }

    @Override
    public boolean canMultiConn() {
        return true; // one file, one page cache: fdatasync covers every connection's writes
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        try {
            readFully(offset, dst);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        try {
            writeFully(offset, src);
            if (fua) {
                sync();
            }
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Void> flush() {
        try {
            sync();
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Punches holes over the whole 4 KiB blocks of the range; partial blocks at its ends keep
     * their data, and where the file system cannot punch holes nothing changes (trim is advisory).
     */
    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
        try {
            checkWritable(offset, length);
            try {
                zeroer.trim(offset, length);
            } catch (IOException e) {
                throw ioFailure("trim", offset, e);
            }
            if (fua) {
                sync();
            }
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua) {
        try {
            zeroFully(offset, length);
            if (fua) {
                sync();
            }
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** {@code pread} of {@code dst}'s remaining bytes; throws {@link BlockDeviceException}. */
    public void readFully(long offset, ByteBuffer dst) {
        BlockDevice.checkRange(offset, dst.remaining(), size, false);
        try {
            long pos = offset;
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    throw new BlockDeviceException(BlockError.EIO, path + ": end of file at " + pos + " inside the device");
                }
                pos += n;
            }
        } catch (IOException e) {
            throw new BlockDeviceException(BlockError.EIO, path + ": read at " + offset + " failed: " + e.getMessage(), e);
        }
    }

    /** {@code pwrite} of {@code src}'s remaining bytes; throws {@link BlockDeviceException}. */
    public void writeFully(long offset, ByteBuffer src) {
        checkWritable(offset, src.remaining());
        try {
            long pos = offset;
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw ioFailure("write", offset, e);
        }
    }

    /** Makes the range read as zeros by {@link #zeroStrategy()}; throws {@link BlockDeviceException}. */
    public void zeroFully(long offset, long length) {
        checkWritable(offset, length);
        try {
            zeroer.zero(offset, length);
        } catch (IOException e) {
            throw ioFailure("zero", offset, e);
        }
    }

    /** {@code fdatasync}; throws {@link BlockDeviceException}. */
    public void sync() {
        try {
            channel.force(false);
        } catch (IOException e) {
            throw new BlockDeviceException(BlockError.EIO, path + ": fdatasync failed: " + e.getMessage(), e);
        }
    }

    private void checkWritable(long offset, long length) {
        if (readOnly) {
            throw new BlockDeviceException(BlockError.EPERM, path + " is open read-only");
        }
        BlockDevice.checkRange(offset, length, size, true);
    }

    private BlockDeviceException ioFailure(String what, long offset, IOException e) {
        String msg = String.valueOf(e.getMessage());
        BlockError error = msg.contains("No space left") ? BlockError.ENOSPC : BlockError.EIO;
        return new BlockDeviceException(error, path + ": " + what + " at " + offset + " failed: " + msg, e);
    }

    /** Closes the file and the fallocate descriptor; idempotent. */
    @Override
    public void close() {
        IOException failure = null;
        try {
            zeroer.close();
        } catch (IOException e) {
            failure = e;
        }
        try {
            channel.close();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        if (failure != null) {
            throw new BlockDeviceException(BlockError.EIO, path + ": close failed: " + failure.getMessage(), failure);
        }
    }
}
