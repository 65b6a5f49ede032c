package io.tern.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Small files that must change atomically and durably: write a temp file, fsync it, rename it
 * over the old one, fsync the folder. There is no fallback to a non-atomic move: if the atomic
 * rename is not supported the call fails.
 */
public final class DurableFiles {
    private DurableFiles() {
    }

    /** Replaces {@code target} with {@code content}; when this returns, the new content survives a crash. */
    public static void writeAtomically(Path target, ByteBuffer content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve(target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = content.duplicate();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(dir);
    }

    /**
     * Creates {@code dir} and whatever parents are missing, syncing each folder an entry was
     * created in, so that a new folder does not vanish in a power cut with everything made
     * durable inside it.
     */
    public static void createDirectories(Path dir) throws IOException {
        java.util.ArrayDeque<Path> missing = new java.util.ArrayDeque<>();
        for (Path p = dir.toAbsolutePath(); p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        for (Path p : missing) {
            try {
                Files.createDirectory(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (!Files.isDirectory(p)) {
                    throw e;
                }
            }
            syncDirectory(p.getParent());
        }
    }

    /** Makes the folder's entries (creates, renames, deletes) durable. */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
