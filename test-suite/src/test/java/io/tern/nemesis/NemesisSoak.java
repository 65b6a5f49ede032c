package io.tern.nemesis;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The nemesis run again and again with a fresh seed each time, for {@code -Dtern.soak.seconds}
 * (run by {@code scripts/soak}; never by CI: it runs only when that property is set). A run is not
 * started once the time is up. Prints and writes ({@code target/nemesis-soak.txt}) the counts:
 * runs, steps, faults per kind, checks passed, violations and the failing seeds, whose folders
 * (data, logs, report.md) are kept; the folders of runs that passed are deleted.
 */
@Isolated("a soak: the machine to itself")
class NemesisSoak {
    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    @EnabledIfSystemProperty(named = "tern.soak.seconds", matches = "\\d+")
    void soak() throws Exception {
        long end = System.nanoTime() + Long.getLong("tern.soak.seconds") * 1_000_000_000L;
        int steps = Integer.getInteger("tern.nemesis.steps", NemesisTest.STEPS);
        Counts total = new Counts();
        List<String> failing = new ArrayList<>();
        int run = 0;
        while (System.nanoTime() < end) {
            long seed = Nemesis.freshSeed();
            Path runDir = Files.createDirectories(dir.resolve("run-" + (++run) + "-seed-" + seed));
            try {
                total.add(Nemesis.run(seed, steps, runDir));
                delete(runDir);
            } catch (NemesisFailure e) {
                total.add(e.counts());
                failing.add(seed + " (" + runDir.resolve("report.md") + "): " + firstLine(e.getMessage()));
            }
            String summary = "nemesis soak after " + run + " runs\n" + total + "failing seeds: "
                    + (failing.isEmpty() ? "none" : "\n  " + String.join("\n  ", failing)) + "\n";
            Files.writeString(Path.of("target", "nemesis-soak.txt"), summary);
            System.err.print(summary);
        }
        if (!failing.isEmpty()) {
            throw new AssertionError(failing.size() + " failing seeds:\n  " + String.join("\n  ", failing));
        }
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    private static void delete(Path p) throws java.io.IOException {
        try (Stream<Path> all = Files.walk(p)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
