package io.tern.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs real external programs (NBD clients, qemu tools, fio) for interop tests. A missing tool
 * fails the test — it is never skipped: {@code scripts/install-deps} installs them.
 */
public final class ExternalTool {
    /** What a finished program printed and returned. */
    public record Result(int exitCode, String stdout, String stderr) {
        public Result ok() {
            if (exitCode != 0) {
                throw new AssertionError("exit code " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr);
            }
            return this;
        }
    }

    private ExternalTool() {
    }

    /** Fails unless {@code name} is on the PATH. */
    public static void require(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, name))) {
                return;
            }
        }
        throw new AssertionError(name + " is not installed; run scripts/install-deps (the test suite needs it)");
    }

    /** Runs {@code command} (its first word is required on the PATH) and waits up to {@code seconds}. */
    public static Result run(Path workDir, long seconds, List<String> command) throws IOException, InterruptedException {
        require(command.get(0));
        Path out = Files.createTempFile(workDir, "out-", ".txt");
        Path err = Files.createTempFile(workDir, "err-", ".txt");
        Process p = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(command + " did not finish in " + seconds + " s; output in " + out + ", " + err);
        }
        Result r = new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    public static Result run(Path workDir, long seconds, String... command) throws IOException, InterruptedException {
        return run(workDir, seconds, List.of(command));
    }
}
