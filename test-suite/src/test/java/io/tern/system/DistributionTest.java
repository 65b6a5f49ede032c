package io.tern.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import io.tern.testing.ExternalTool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution archive that the cli module builds at {@code package}
 * ({@code cli/target/tern-VERSION-dist.tar.gz}, see docs/install.md), unpacked with {@code tar}
 * in an empty folder: its launcher runs {@code tern demo} with nothing but Java, and its systemd
 * unit passes {@code systemd-analyze verify}. The unpacked folders stay under
 * {@code target/test-data/DistributionTest} when a test fails.
 */
class DistributionTest {
    /** The cli module's build output; the test runs in test-suite, after cli was packaged in the same reactor build. */
    private static final Path CLI_TARGET = Path.of("..", "cli", "target");
    private static final String SUFFIX = "-dist.tar.gz";
    private static final long DEMO_SECONDS = 300;
    private static final String UNIT = "tern@.service";
    private static final String EXEC_START = "ExecStart=/opt/tern/bin/tern run --home /var/lib/tern/%i";

    @TempDir
    Path dir;

    @Test
    void unpackedArchiveRunsTheDemo() throws Exception {
        Path dist = unpack();
        Path launcher = dist.resolve("bin/tern");
        assertThat(Files.getPosixFilePermissions(launcher)).as("bin/tern's mode")
                .contains(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
        assertThat(dist.resolve("lib/tern-cli.jar")).isRegularFile();
        assertThat(dist.resolve("examples/README.md")).isRegularFile();
        assertThat(dist.resolve("examples/node.properties")).isRegularFile();
        try (Stream<Path> ocf = Files.exists(dist.resolve("ocf")) ? Files.list(dist.resolve("ocf")) : Stream.empty()) {
            for (Path agent : ocf.collect(Collectors.toList())) {
                assertThat(Files.isExecutable(agent)).as(agent + " is executable").isTrue();
            }
        }

        // Through a symlink elsewhere, as /usr/local/bin/tern -> /opt/tern/bin/tern would be.
        Path link = Files.createDirectories(dir.resolve("path")).resolve("tern");
        Files.createSymbolicLink(link, launcher);
        Path out = dir.resolve("demo.out");
        Path err = dir.resolve("demo.err");
        ProcessBuilder pb = new ProcessBuilder(link.toString(), "demo", "--seconds", "2", "--dir",
                dir.resolve("demo-data").toString()).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeAll(List.of("CLASSPATH", "TERN_HOME", "TERN_JAVA_OPTS", "JAVA_TOOL_OPTIONS"));
        env.put("JAVA_HOME", System.getProperty("java.home"));
        Process demo = pb.start();
        if (!demo.waitFor(DEMO_SECONDS, TimeUnit.SECONDS)) {
            demo.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("tern demo did not finish in " + DEMO_SECONDS + " s; see " + out + " and " + err);
        }
        String printed = Files.readString(out, StandardCharsets.UTF_8);
        assertThat(demo.exitValue()).as("tern demo's exit code; output in %s and %s", out, err).isZero();
        assertThat(printed.lines()).as("tern demo's output (%s)", out).anyMatch(l -> l.startsWith("demo OK"));
    }

    @Test
    void systemdUnitPassesVerify() throws Exception {
        Path dist = unpack();
        String unit = Files.readString(dist.resolve("systemd").resolve(UNIT), StandardCharsets.UTF_8);
        assertThat(unit.lines()).as("the unit runs the node home named by the instance").contains(EXEC_START);

        // A template is verified as an instance. systemd-analyze checks that ExecStart's program is
        // there and executable, so the instance runs the unpacked launcher rather than /opt/tern's.
        Path units = Files.createDirectories(dir.resolve("units"));
        Path instance = units.resolve("tern@demo.service");
        Files.writeString(instance, unit.replace("/opt/tern/bin/tern", dist.resolve("bin/tern").toString()));
        ExternalTool.Result r = ExternalTool.run(units, 60, "systemd-analyze", "verify", instance.toString());
        assertThat(r.exitCode()).as("systemd-analyze verify: %s%s", r.stdout(), r.stderr()).isZero();
        assertThat((r.stdout() + r.stderr()).lines()).as("systemd-analyze verify's complaints about the unit")
                .noneMatch(l -> l.contains(instance.getFileName().toString()));

        // The check above can fail: systemd-analyze names the file of a unit it finds wrong.
        Path broken = units.resolve("tern@broken.service");
        Files.writeString(broken, Files.readString(instance).replace("[Service]\n", "[Service]\nNoSuchDirective=yes\n"));
        ExternalTool.Result b = ExternalTool.run(units, 60, "systemd-analyze", "verify", broken.toString());
        assertThat(b.stdout() + b.stderr()).contains(broken.getFileName().toString()).contains("NoSuchDirective");
    }

    /** Unpacks the newest archive of the cli module into a fresh folder; returns its top folder. */
    private Path unpack() throws IOException, InterruptedException {
        Path archive = archive();
        Path into = Files.createDirectories(dir.resolve("unpacked"));
        ExternalTool.run(into, 120, "tar", "-xzf", archive.toAbsolutePath().toString(), "-C", into.toString()).ok();
        String name = archive.getFileName().toString();
        Path top = into.resolve(name.substring(0, name.length() - SUFFIX.length()));
        try (Stream<Path> s = Files.list(into)) {
            assertThat(s.collect(Collectors.toList())).as("the archive holds one top folder").containsExactly(top);
        }
        return top;
    }

    private static Path archive() throws IOException {
        List<Path> found;
        try (Stream<Path> s = Files.exists(CLI_TARGET) ? Files.list(CLI_TARGET) : Stream.empty()) {
            found = s.filter(p -> p.getFileName().toString().startsWith("tern-") && p.getFileName().toString().endsWith(SUFFIX))
                    .sorted(Comparator.comparing(DistributionTest::modified).reversed())
                    .collect(Collectors.toList());
        }
        if (found.isEmpty()) {
            throw new AssertionError("no distribution archive tern-VERSION" + SUFFIX + " in " + CLI_TARGET.toAbsolutePath().normalize()
                    + ": build it in the same run, e.g. mvn -pl test-suite -am verify (the cli module makes it at package)");
        }
        return found.get(0);
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
