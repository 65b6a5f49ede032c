package io.tern.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Starts a class's {@code main} in a separate JVM with the test classpath and the project's JVM flags. */
public final class ChildJvm {
    /** The commands the launcher runs with the full JIT; it adds tern-command-jvm.flags to the others. */
    private static final java.util.Set<String> LONG_RUNNING = java.util.Set.of("run", "demo", "verify");

    private ChildJvm() {
    }

    public static Process start(Class<?> main, Path stderr, String... args) throws IOException {
        return new ProcessBuilder(command(main.getName(), "-Xmx256m", args))
                .redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()))
                .start();
    }

    /** The command line running {@code mainClass} with the test classpath and the project's JVM flags. */
    public static List<String> command(String mainClass, String heap, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        addFlags(cmd, "tern.jvm.flags");
        if (mainClass.equals("io.tern.cli.Main") && args.length > 0 && !LONG_RUNNING.contains(args[0])) {
            addFlags(cmd, "tern.command.jvm.flags"); // a short command, started as the launcher starts it
        }
        cmd.add(heap);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(mainClass);
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    /** Adds the JVM flags the system property {@code name} holds (space-separated; none if unset). */
    private static void addFlags(List<String> cmd, String name) {
        String flags = System.getProperty(name, "");
        if (!flags.isBlank()) {
            cmd.addAll(Arrays.asList(flags.trim().split("\\s+")));
        }
    }
}
