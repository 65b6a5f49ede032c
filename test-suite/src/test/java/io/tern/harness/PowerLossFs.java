package io.tern.harness;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A mounted power-loss file system ({@code /powerloss/powerloss_fs.py}, FUSE) that turns a
 * {@code kill -9} test into a power-loss test: kill every process that writes under {@link #root()},
 * then {@link #cut()}, then restart them on what survived.
 *
 * <p>The model is strict POSIX, stricter than ext4 in practice. Processes see every change at once
 * (the live view); a cut keeps only the durable view:
 * <ul>
 *   <li>{@code fsync}/{@code fdatasync} of a file ({@code FileChannel.force}, {@code O_DSYNC}
 *       writes, {@code msync}) makes that file's data and size durable, but none of its names;
 *   <li>{@code fsync} of a folder ({@code FileChannel.open(dir, READ).force(true)}) makes its
 *       current entries durable: names, symlinks with their targets, subfolders (not their
 *       content);
 *   <li>so after a cut a file fsync'd but never named by a folder fsync is gone; a durable name
 *       whose data was never fsync'd comes back with its last fsync'd content, or empty; a rename
 *       or unlink not followed by a fsync of the folder is undone; a move between folders with
 *       only the destination fsync'd leaves both names;
 *   <li>{@code sync(1)} makes nothing durable; an unmount is a cut, and {@link #mount} on the same
 *       state folder starts from its durable view.
 * </ul>
 * Files opened before a cut fail with EIO afterwards. The process that runs the file system is
 * root's; other users cannot reach the mount (no {@code allow_other}).
 *
 * <p>Not thread-safe: one test owns an instance and closes it.
 */
public final class PowerLossFs implements AutoCloseable {
    static final String RESOURCE = "/powerloss/powerloss_fs.py";
    private static final String CONTROL_FILE = ".powerloss";
    private static final long MOUNT_DEADLINE_MS = 20_000;
    private static final long UNMOUNT_DEADLINE_MS = 20_000;
    private static final long POLL_MS = 20;
    private static final String[] PYTHON_CANDIDATES = {"/usr/bin/python3", "python3"};
    private static final Path DEV_FUSE = Path.of("/dev/fuse");

    private final Path mountPoint;
    private final Path logFile;
    private final Process process;
    private boolean closed;

    private PowerLossFs(Path mountPoint, Path logFile, Process process) {
        this.mountPoint = mountPoint;
        this.logFile = logFile;
        this.process = process;
    }

    /**
     * Fails (never skips) the calling test when a tool the file system needs is missing: a
     * python3 with the fusepy module, fusermount3, or a usable /dev/fuse.
     *
     * @throws AssertionError naming every missing piece and the Debian package that provides it
     */
    public static void requireAvailable() {
        findPython();
    }

    /**
     * Mounts the file system on {@code mountPoint} (created if missing) with its durable state in
     * {@code stateDir} (created if missing; reused if it holds an earlier mount's state) and its
     * output appended to {@code logFile}; returns once the mount shows in /proc/self/mountinfo.
     *
     * @throws IOException when the file system does not mount within 20 s or exits first; the
     *         message names the log file and quotes its end
     */
    public static PowerLossFs mount(Path stateDir, Path mountPoint, Path logFile) throws IOException {
        String python = findPython();
        Files.createDirectories(mountPoint);
        Path realMountPoint = mountPoint.toRealPath();
        if (isMounted(realMountPoint)) {
            throw new IOException(realMountPoint + " is already a mount point; unmount it first");
        }
        Files.createDirectories(stateDir);
        Path script = script(stateDir.toAbsolutePath().getParent());
        Process process = new ProcessBuilder(python, script.toString(), stateDir.toString(), realMountPoint.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MOUNT_DEADLINE_MS);
        try {
            while (!isMounted(realMountPoint)) {
                if (!process.isAlive()) {
                    throw new IOException("power-loss file system exited with code " + process.exitValue()
                            + " before mounting " + realMountPoint + "; see " + logFile + tail(logFile));
                }
                if (System.nanoTime() > deadline) {
                    process.destroyForcibly().waitFor(UNMOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS);
                    throw new IOException("power-loss file system did not mount " + realMountPoint + " within "
                            + MOUNT_DEADLINE_MS / 1000 + " s; see " + logFile + tail(logFile));
                }
                process.waitFor(POLL_MS, TimeUnit.MILLISECONDS); // returns at once if it exits
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while mounting " + realMountPoint, e);
        }
        return new PowerLossFs(realMountPoint, logFile, process);
    }

    /** The mount point: where the processes under test keep their files. */
    public Path root() {
        return mountPoint;
    }

    /**
     * The power cut: replaces everything under {@link #root()} with its durable view. Kill the
     * processes that write there first; their open files would fail with EIO.
     */
    public void cut() throws IOException {
        requireOpen();
        Files.writeString(mountPoint.resolve(CONTROL_FILE), "cut", StandardOpenOption.WRITE);
    }

    /**
     * A failing disk or a full file system under one file: from now on every write and fallocate
     * of a file whose path ends with {@code pathSuffix} fails with {@code errno} ({@code "EIO"} or
     * {@code "ENOSPC"}) until {@link #heal()}. Reads, fsyncs and other files are untouched.
     */
    public void failWrites(String errno, String pathSuffix) throws IOException {
        requireOpen();
        if (!errno.equals("EIO") && !errno.equals("ENOSPC")) {
            throw new IllegalArgumentException("only EIO or ENOSPC, not " + errno);
        }
        if (pathSuffix.isEmpty() || pathSuffix.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("a path suffix without blanks, not '" + pathSuffix + "'");
        }
        Files.writeString(mountPoint.resolve(CONTROL_FILE), "fail " + errno + " " + pathSuffix, StandardOpenOption.WRITE);
    }

    /** Ends {@link #failWrites}: writes go through again. */
    public void heal() throws IOException {
        requireOpen();
        Files.writeString(mountPoint.resolve(CONTROL_FILE), "heal", StandardOpenOption.WRITE);
    }

    /**
     * One line of JSON: {@code pending_bytes} and {@code pending_dir_changes} (what a cut now
     * would drop), {@code cuts} and {@code fsyncs} (files and folders) since this mount, the
     * injected fault ({@code failing}, null when none) and {@code failed_writes}.
     */
    public String stats() throws IOException {
        requireOpen();
        return Files.readString(mountPoint.resolve(CONTROL_FILE)).trim();
    }

    /**
     * Unmounts (an unmount drops what was not fsync'd, like a cut) and waits for the file system
     * to exit; idempotent. Falls back to a lazy unmount when a process still holds a file there.
     *
     * @throws IOException when the mount stays, or the file system exits with an error (see the log)
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            String unmount = run("fusermount3", "-u", mountPoint.toString());
            if (unmount != null) {
                String lazy = run("umount", "-l", mountPoint.toString());
                if (lazy != null) {
                    throw new IOException("cannot unmount " + mountPoint + ": fusermount3 -u said: " + unmount
                            + "; umount -l said: " + lazy);
                }
            }
            if (!process.waitFor(UNMOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(UNMOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS);
                throw new IOException("power-loss file system did not exit within " + UNMOUNT_DEADLINE_MS / 1000
                        + " s of unmounting " + mountPoint + "; killed it; see " + logFile);
            }
            if (process.exitValue() != 0) {
                throw new IOException("power-loss file system exited with code " + process.exitValue()
                        + " after unmounting " + mountPoint + "; see " + logFile + tail(logFile));
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting " + mountPoint, e);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("power-loss file system at " + mountPoint + " is closed");
        }
    }

    /**
     * The script as a file: straight from the classpath when the resources are a folder (a Maven
     * build), else copied out of the jar next to the state folder.
     */
    private static Path script(Path dir) throws IOException {
        URL url = PowerLossFs.class.getResource(RESOURCE);
        if (url == null) {
            throw new AssertionError(RESOURCE + " is not on the test classpath (test-suite/src/test/resources)");
        }
        if ("file".equals(url.getProtocol())) {
            try {
                return Path.of(url.toURI());
            } catch (URISyntaxException e) {
                throw new IOException("bad resource URL " + url, e);
            }
        }
        Path copy = dir.resolve("powerloss_fs.py");
        try (InputStream in = url.openStream()) {
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        }
        return copy;
    }

    /** A python3 that imports fusepy, after checking the other tools; fails listing all that is missing. */
    static String findPython() {
        List<String> missing = new ArrayList<>();
        if (!Files.isReadable(DEV_FUSE) || !Files.isWritable(DEV_FUSE)) {
            missing.add("/dev/fuse is missing or not readable and writable (load the fuse module; run as root)");
        }
        if (!onPath("fusermount3")) {
            missing.add("fusermount3 is not on PATH (apt-get install fuse3)");
        }
        String python = null;
        for (String candidate : PYTHON_CANDIDATES) {
            if (succeeds(candidate, "-c", "import fusepy")) {
                python = candidate;
                break;
            }
        }
        if (python == null) {
            missing.add("no python3 imports fusepy (tried " + String.join(", ", PYTHON_CANDIDATES)
                    + "; apt-get install python3-fusepy)");
        }
        if (!missing.isEmpty()) {
            throw new AssertionError("power-loss file system unavailable: " + String.join("; ", missing));
        }
        return python;
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static boolean succeeds(String... command) {
        try {
            return run(command) == null;
        } catch (IOException e) {
            return false; // not installed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Runs a short helper command; null when it succeeds, else its exit code and output. The
     * helpers print a line or two, far below a pipe's buffer, so waiting before reading cannot
     * block them.
     */
    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        try (InputStream in = p.getInputStream()) {
            if (!p.waitFor(UNMOUNT_DEADLINE_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return String.join(" ", command) + " did not finish within " + UNMOUNT_DEADLINE_MS / 1000 + " s";
            }
            if (p.exitValue() == 0) {
                return null;
            }
            return "exit " + p.exitValue() + ": " + new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }

    /**
     * Whether {@code mountPoint} (a real path) is a mount point in this process's namespace. The
     * fifth field of a mountinfo line is the mount point, with space, tab, newline and backslash
     * escaped as octal.
     */
    private static boolean isMounted(Path mountPoint) throws IOException {
        String wanted = mountPoint.toString();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            String[] fields = line.split(" ");
            if (fields.length > 4 && unescape(fields[4]).equals(wanted)) {
                return true;
            }
        }
        return false;
    }

    private static String unescape(String field) {
        StringBuilder b = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && isOctal(field, i + 1)) {
                b.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(String s, int from) {
        for (int i = from; i < from + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }

    /** The last lines of the log, for an error message. */
    private static String tail(Path logFile) {
        try {
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return lines.isEmpty() ? " (empty)"
                    : ":\n  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return " (unreadable: " + e.getMessage() + ")";
        }
    }
}
