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
    void demoReplicatesToASecondaryRecoversAndVerifies() throws Exception {
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
        assertThat(text).contains("demo OK")
                .contains("node b, read back over its read-only NBD export: all 16,384 blocks hold their last write")
                .contains("node a, read back after restart: all 16,384 blocks hold their last write")
                .contains("node b, after reconnecting by itself: all 16,384 blocks hold their last write");
        assertThat(Files.list(dir.resolve("node-a/resources/r0/log")).anyMatch(p -> p.toString().endsWith(".seg"))).isTrue();
        assertThat(Files.readString(dir.resolve("node-b/resources/r0/sync.properties"))).contains("phase=done");
    }

    @Test
    void unknownCommandsFailWithUsage() {
        assertThat(Main.run("no-such-command")).isNotZero();
    }
}
