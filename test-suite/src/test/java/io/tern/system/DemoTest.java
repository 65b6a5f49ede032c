package io.tern.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.tern.testing.ChildJvm;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tern demo}'s verification can fail: run with the hidden {@code --corrupt-secondary-block},
 * which overwrites one block of the secondary's backing file behind Tern's back just before the
 * last comparison, the demo exits non-zero with a {@code demo FAILED} line naming that block. The
 * check after the first handover, untouched, passes in the same run, so the failure is the
 * injected one. (The demo's normal run is proven by CI's {@code ./tern demo} and by
 * DistributionTest.) Its node homes and output stay under {@code target/test-data/DemoTest} when
 * the test fails.
 */
class DemoTest {
    private static final long DEMO_SECONDS = 240;
    private static final Pattern CORRUPTED = Pattern.compile("self-check: block (\\d+) \\(offset (\\d+)\\) of b's backing file");

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void aCorruptedSecondaryBlockFailsTheDemoNamingTheBlock() throws Exception {
        Path out = dir.resolve("demo.out");
        Path err = dir.resolve("demo.err");
        List<String> cmd = ChildJvm.command("io.tern.cli.Main", "-Xmx512m", "demo", "--dir",
                dir.resolve("demo-data").toString(), "--seconds", "1", "--corrupt-secondary-block");
        Process demo = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!demo.waitFor(DEMO_SECONDS, TimeUnit.SECONDS)) {
            demo.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("tern demo did not finish in " + DEMO_SECONDS + " s; see " + out + " and " + err);
        }
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertThat(demo.exitValue()).as("tern demo's exit code; output in %s and %s", out, err).isNotZero();
        assertThat(lines).as("tern demo's output (%s)", out).noneMatch(l -> l.startsWith("demo OK"));
        assertThat(lines).as("the untouched check after the first handover passed (%s)", out)
                .anyMatch(l -> l.contains("a (secondary): equal to b block by block"));

        String corrupted = lines.stream().filter(l -> CORRUPTED.matcher(l).find()).findFirst()
                .orElseThrow(() -> new AssertionError("the demo did not say which block it corrupted; see " + out));
        Matcher m = CORRUPTED.matcher(corrupted);
        assertThat(m.find()).isTrue();
        String block = "block " + m.group(1) + " (offset " + m.group(2) + ")";
        assertThat(lines).as("the demo's verdict (%s)", out)
                .filteredOn(l -> l.startsWith("demo FAILED: "))
                .singleElement().asString()
                .contains("after the handover back to a: the images differ: 1 of 16,384 blocks of b differ from a's")
                .contains("first " + block);
    }
}
