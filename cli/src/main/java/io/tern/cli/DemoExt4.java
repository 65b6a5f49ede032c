package io.tern.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The demo's file-system workload, used only where e2fsprogs is installed: a small ext4 image
 * made by {@code mke2fs -d} from generated files (the demo writes it through NBD), and
 * {@code e2fsck -fn} of the image read back from a node. Tern needs neither tool; without them the
 * demo runs its block workload alone.
 */
final class DemoExt4 {
    private static final List<String> SBIN = List.of("/usr/sbin", "/sbin");
    private static final long TOOL_SECONDS = 60;

    private final Path mke2fs;
    private final Path e2fsck;

    private DemoExt4(Path mke2fs, Path e2fsck) {
        this.mke2fs = mke2fs;
        this.e2fsck = e2fsck;
    }

    /** The tools, when both are installed (on the PATH or in /usr/sbin, /sbin). */
    static Optional<DemoExt4> find() {
        Optional<Path> mk = tool("mke2fs");
        Optional<Path> fsck = tool("e2fsck");
        return mk.isPresent() && fsck.isPresent() ? Optional.of(new DemoExt4(mk.get(), fsck.get())) : Optional.empty();
    }

    private static Optional<Path> tool(String name) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        dirs.addAll(SBIN);
        return dirs.stream().filter(d -> !d.isEmpty()).map(d -> Path.of(d, name))
                .filter(p -> Files.isRegularFile(p) && Files.isExecutable(p)).findFirst();
    }

    /** An image and what it holds. */
    record Image(byte[] bytes, int files, long fileBytes) {
    }

    /**
     * Generates a small tree of text and binary files under {@code work} and makes an ext4 image
     * of {@code size} bytes holding it.
     */
    Image make(Path work, long size, long seed) throws IOException, InterruptedException {
        Path tree = Files.createDirectories(work.resolve("files"));
        SplittableRandom random = new SplittableRandom(seed);
        int files = 0;
        long bytes = 0;
        for (String d : List.of("docs", "src/main", "src/test", "data/2026", "data/2027")) {
            Path dir = Files.createDirectories(tree.resolve(d));
            for (int i = 0; i < 12; i++) {
                byte[] content;
                if (d.startsWith("data")) {
                    content = new byte[4096 + random.nextInt(256 << 10)];
                    random.nextBytes(content);
                } else {
                    StringBuilder text = new StringBuilder();
                    int lines = 20 + random.nextInt(2000);
                    for (int l = 0; l < lines; l++) {
                        text.append(d).append(" file ").append(i).append(" line ").append(l).append(": ")
                                .append(Long.toHexString(random.nextLong())).append('\n');
                    }
                    content = text.toString().getBytes(StandardCharsets.UTF_8);
                }
                Files.write(dir.resolve((d.startsWith("data") ? "sample-" : "page-") + i + (d.startsWith("data") ? ".bin" : ".txt")),
                        content);
                files++;
                bytes += content.length;
            }
        }
        Path image = work.resolve("ext4.img");
        run(work, mke2fs.toString(), "-q", "-F", "-t", "ext4", "-b", "4096", "-L", "tern-demo", "-d", tree.toString(),
                image.toString(), (size >> 10) + "k").ok("mke2fs");
        byte[] b = Files.readAllBytes(image);
        if (b.length != size) {
            throw new IOException("mke2fs made " + b.length + " bytes, not " + size);
        }
        return new Image(b, files, bytes);
    }

    /**
     * Runs {@code e2fsck -fn} on {@code bytes} (written to {@code file}); returns its summary line.
     *
     * @throws DemoFailure if e2fsck finds anything to fix
     */
    String check(Path file, byte[] bytes, String what) throws IOException, InterruptedException {
        Files.write(file, bytes);
        Result r = run(file.getParent(), e2fsck.toString(), "-fn", file.toString());
        if (r.exit != 0) {
            throw new DemoFailure("e2fsck -fn of the file system read back from " + what + " exited " + r.exit + ": "
                    + r.output.strip().replace('\n', ' '));
        }
        List<String> lines = r.output.strip().lines().toList();
        return lines.isEmpty() ? "clean" : lines.get(lines.size() - 1);
    }

    private record Result(int exit, String output) {
        Result ok(String tool) throws IOException {
            if (exit != 0) {
                throw new IOException(tool + " exited " + exit + ": " + output.strip());
            }
            return this;
        }
    }

    private static Result run(Path dir, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "tool-", ".out");
        try {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(TOOL_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command[0] + " did not finish within " + TOOL_SECONDS + " s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
