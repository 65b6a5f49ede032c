package io.tern.system;

import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * SIGTERM of a primary while it takes sync-mode writes and serves a paced full sync, ten rounds: every
 * stop ends with a successful final checkpoint (no error in its log, and the next start replays
 * nothing: the checkpoint covered every record). The full sync's readers share the device's file
 * channel; an interrupt reaching one would close it under the checkpoint.
 */
@Isolated("needs its throttled sync still running after ten restarts")
class ShutdownUnderLoadTest {
    private static final String RES = "r0";
    private static final long SIZE = 1L << 30;
    private static final int ROUNDS = 10;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @SuppressWarnings("unchecked")
    private static long copied(TernNode node) throws Exception {
        return number((Map<String, Object>) node.resource(RES).get("sync"), "copied_bytes");
    }

    @Test
    void everyStopUnderLoadCheckpointsCleanly() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", Long.toString(SIZE), "--durability", "sync");
            b.start();
            tern(b, "join", RES, "--peer", a.peer(), "--sync-rate", "16M");
            try (Workload load = new Workload(a::nbdAddress, RES, SIZE, Seeds.seed("ShutdownUnderLoadTest")).start()) {
                int syncing = 0;
                for (int round = 1; round <= ROUNDS; round++) {
                    load.awaitMore(200, 60);
                    if (round == 1) {
                        long from = copied(b);
                        await("the full sync copies").atMost(Duration.ofSeconds(60)).until(() -> copied(b) > from);
                    }
                    Map<String, Object> peer = peers(b.resource(RES)).get(0);
                    if ("Syncing".equals(peer.get("state")) && Boolean.TRUE.equals(peer.get("connected"))) {
                        syncing++; // b reconnects with backoff after each restart: not every round catches it syncing
                    }
                    assertThat(copied(b)).as("round %d: the sync is still running", round).isLessThan(SIZE);
                    a.stop();
                    String stopped = Files.readString(a.home().resolve("daemon-" + round + ".err"));
                    assertThat(stopped).as("round %d: the stop", round)
                            .doesNotContain("checkpoint failed").doesNotContain("java.nio.channels.ClosedChannelException")
                            .doesNotContain("ClosedByInterruptException");
                    a.start();
                    String started = Files.readString(a.home().resolve("daemon-" + (round + 1) + ".err"));
                    assertThat(started).as("round %d: the final checkpoint covered every record", round)
                            .contains("replayed 0 records onto the backing store");
                }
                assertThat(syncing).as("rounds stopped while the full sync was connected").isGreaterThanOrEqualTo(1);
            }
        }
    }
}
