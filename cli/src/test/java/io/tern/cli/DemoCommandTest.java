package io.tern.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void demoReplicatesHandsOverAndBackAndVerifies() throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.run("demo", "--seconds", "1", "--dir", dir.toString());
        } finally {
            System.setOut(old);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(code).as(text).isZero();
        // A handover to b, a check, a handover back to a, a check: each time every acknowledged write on the
        // primary and the secondary equal to it block by block.
        assertThat(text).contains("b (primary): all 16,384 blocks hold what they must")
                .contains("a (secondary): equal to b block by block")
                .contains("a (primary): all 16,384 blocks hold what they must")
                .contains("b (secondary): equal to a block by block")
                .contains("2 handovers, images equal");
        assertThat(text.lines().reduce((first, second) -> second).orElseThrow()).startsWith("demo OK");
        assertThat(Files.list(dir.resolve("node-a/resources/r0/log")).anyMatch(p -> p.toString().endsWith(".seg"))).isTrue();
        assertThat(Files.readString(dir.resolve("node-b/resources/r0/sync.properties"))).contains("phase=done");
    }

    @Test
    void unknownCommandsFailWithUsage() {
        assertThat(Main.run("no-such-command")).isNotZero();
    }
}
