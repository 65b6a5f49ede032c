package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tern verify} on a real secondary while its primary takes writes: one 4 KiB block of the
 * secondary's data file is overwritten behind Tern's back, in a region the writes never touch.
 * The verify must name exactly that block, {@code --repair} must rewrite only it, a second verify
 * must find nothing, and the images must end equal.
 */
class VerifyTest {
    private static final String RES = "r0";
    private static final long SIZE = 64L << 20;
    /** The writes go to the first half; the damaged block lies in the second. */
    private static final long DAMAGED = (48L << 20) + 5 * 4096;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @SuppressWarnings("unchecked")
    private static Map<String, Object> verify(TernNode node, String... more) throws Exception {
        String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of("verify", RES),
                java.util.Arrays.stream(more)).toArray(String[]::new);
        tern(node, args);
        String out = Files.readString(node.logs().resolve("command.out")); // every command's output, appended
        return (Map<String, Object>) Json.parse(out.substring(out.lastIndexOf("\n{") + 1));
    }

    @Test
    @SuppressWarnings("unchecked")
    void verifyFindsTheBlockCorruptedBehindTernsBackAndRepairFixesOnlyIt() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", Long.toString(SIZE));
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

            Path data = b.home().resolve("resources").resolve(RES).resolve("data.img");
            byte[] junk = new byte[4096];
            new Random(Seeds.seed("VerifyTest-junk")).nextBytes(junk);
            try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(junk), DAMAGED);
                ch.force(false);
            }

            AtomicLong written = new AtomicLong();
            Thread writer = new Thread(() -> {
                Random random = new Random(Seeds.seed("VerifyTest"));
                try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                    byte[] block = new byte[4096];
                    while (!Thread.currentThread().isInterrupted()) {
                        random.nextBytes(block);
                        client.write(4096L * random.nextInt((int) (SIZE / 2 / 4096)), block, false).get(10, TimeUnit.SECONDS);
                        written.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, "verify-test-writes");
            writer.start();
            try {
                Map<String, Object> found = verify(b);
                assertThat(number(found, "compared_bytes")).isEqualTo(SIZE);
                assertThat((List<Object>) found.get("differing_ranges")).as("exactly the damaged block")
                        .containsExactly(Map.of("offset", DAMAGED, "length", 4096L));
                assertThat(number(found, "repaired_bytes")).isZero();

                Map<String, Object> repaired = verify(b, "--repair");
                assertThat((List<Object>) repaired.get("differing_ranges")).containsExactly(Map.of("offset", DAMAGED, "length", 4096L));
                assertThat(number(repaired, "repaired_bytes")).as("only that block is rewritten").isEqualTo(4096);

                long before = written.get();
                Map<String, Object> clean = verify(b);
                assertThat(number(clean, "differing_bytes")).isZero();
                assertThat(written.get()).as("the primary took writes during the verifies").isGreaterThan(before);
                assertThat(number(clean, "lsn")).as("pinned at a later lsn").isGreaterThan(number(found, "lsn"));
            } finally {
                writer.interrupt();
                writer.join(30_000);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
        }
    }
}
