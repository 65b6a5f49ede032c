package io.tern.block.file;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * The few libc calls a {@link FileBlockDevice} needs and Java lacks ({@code fallocate(2)} and a
 * descriptor to call it on), through JNA. A failed call throws {@link LastErrorException} with
 * its errno. Constants are Linux's values (the same on x86-64 and arm64).
 */
interface Libc extends Library {
    int O_RDWR = 2;
    int O_CLOEXEC = 0x80000;

    /** fallocate's mode 0: allocate the range (unwritten, reading as zeros) and extend the file over it. */
    int FALLOC_ALLOCATE = 0;
    int FALLOC_FL_KEEP_SIZE = 0x01;
    int FALLOC_FL_PUNCH_HOLE = 0x02;
    int FALLOC_FL_ZERO_RANGE = 0x10;

    int EINTR = 4;
    int ENODEV = 19;
    int EINVAL = 22;
    int ENOSPC = 28;
    int ENOSYS = 38;
    int EOPNOTSUPP = 95;

    /** Loads libc; throws {@link LinkageError} where JNA or libc cannot be loaded. */
    static Libc load() {
        return Native.load("c", Libc.class);
    }

    int open(String path, int flags) throws LastErrorException;

    int close(int fd) throws LastErrorException;

    int fallocate(int fd, int mode, long offset, long length) throws LastErrorException;
}
