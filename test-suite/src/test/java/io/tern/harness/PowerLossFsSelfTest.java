package io.tern.harness;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Runs the power-loss file system's own self-test ({@code powerloss/selftest.py}): what survives
 * a cut, a remount and a killed file system, the injected write faults, and its throughput. The
 * power-loss tests and the nemesis trust this file system; this proves it does what they assume.
 */
@Isolated("compares throughputs measured one after the other")
class PowerLossFsSelfTest {
    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void theFileSystemPassesItsSelfTest() throws Exception {
        String python = PowerLossFs.findPython();
        Path script = Path.of(PowerLossFsSelfTest.class.getResource("/powerloss/selftest.py").toURI());
        Path out = dir.resolve("selftest.out");
        Process p = new ProcessBuilder(python, script.toString(), dir.resolve("work").toString())
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        p.getOutputStream().close();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the self-test ends within 120 s (see %s)", out).isTrue();
        String output = Files.readString(out, StandardCharsets.UTF_8);
        System.err.println(output);
        assertThat(p.exitValue()).as("exit code of the self-test; output:%n%s", output).isZero();
        assertThat(output).contains("injected faults", "ok  a write fails with EIO", "ok  a write fails with ENOSPC")
                .endsWith("PASS\n");
    }
}
