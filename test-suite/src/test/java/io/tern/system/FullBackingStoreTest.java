package io.tern.system;

import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import io.tern.testing.SmallFileSystem;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A primary whose sparse backing store lies on a small tmpfs that an outsider fills: writes to
 * new blocks then need room the file system no longer has. The node must refuse writes with a
 * clear error (ENOSPC on the wire, the problem in status) while reads go on, lose no acknowledged
 * write, take writes again by itself once space returns, and hold every acknowledged write after
 * a kill -9 and restart.
 */
class FullBackingStoreTest {
    private static final String RES = "r0";
    private static final int BLOCK = 4096;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    /** The content of the {@code i}-th block written (seeded: the check rebuilds it). */
    private static byte[] block(long seed, int i) {
        byte[] b = new byte[BLOCK];
        new Random(seed + i).nextBytes(b);
        return b;
    }

    @Test
    void aFullSparseBackingStoreRefusesWritesClearlyLosesNothingAndRecoversWhenSpaceReturns() throws Exception {
        long seed = Seeds.seed("FullBackingStoreTest");
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("data-fs"), 32L << 20);
             TernNode a = init(dir, "a", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "256M", "--sparse", "--data", fs.path().resolve("a.img").toString());
            List<Integer> acked = new ArrayList<>();
            Path filler = fs.fillLeaving(1 << 20);
            String refusal = null;
            try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                // Each write goes to a block never written before: it needs a page of the tmpfs.
                for (int i = 0; i < 4096 && refusal == null; i++) {
                    try {
                        client.write((long) i * BLOCK, block(seed, i), false).get(10, TimeUnit.SECONDS);
                        acked.add(i);
                    } catch (ExecutionException e) {
                        refusal = String.valueOf(e.getCause().getMessage());
                    }
                }
                assertThat(refusal).as("a write is refused once the store is full").isNotNull();
                assertThat(String.valueOf(a.resource(RES).get("problem"))).contains("ENOSPC").contains("free space");
                assertThat(a.resource(RES).get("disk")).as("not failed: it recovers").isNotEqualTo("Failed");
                // Reads go on, and return what was acknowledged.
                int last = acked.get(acked.size() - 1);
                assertThat(client.read((long) last * BLOCK, BLOCK).get(10, TimeUnit.SECONDS)).isEqualTo(block(seed, last));

                Files.delete(filler);
                await("writes are taken again once there is room").atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(200)).until(() -> a.resource(RES).get("problem") == null);
                for (int i = 4096; i < 4196; i++) {
                    client.write((long) i * BLOCK, block(seed, i), false).get(10, TimeUnit.SECONDS);
                    acked.add(i);
                }
            }
            a.kill();
            a.start();
            try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                for (int i : acked) {
                    assertThat(client.read((long) i * BLOCK, BLOCK).get(10, TimeUnit.SECONDS))
                            .as("acknowledged block %d", i).isEqualTo(block(seed, i));
                }
            }
            assertThat(Files.readString(a.home().resolve("daemon-1.err"))).contains("device stalled")
                    .contains("takes records again");
        }
    }
}
