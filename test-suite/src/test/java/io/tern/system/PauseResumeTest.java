package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
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

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tern pause|resume sync|fetch|replay} on a real secondary: a paused full sync copies
 * nothing more and resumes where it stood; paused fetching takes no more of the log, also after
 * a restart of the node, and catches up when resumed; the switches show in status.
 */
class PauseResumeTest {
    private static final String RES = "r0";

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @SuppressWarnings("unchecked")
    private static long copied(TernNode node) throws Exception {
        return number((Map<String, Object>) node.resource(RES).get("sync"), "copied_bytes");
    }

    @Test
    void pausedSyncAndFetchStandStillAndResumeWhereTheyStood() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "64M");
            try (Workload load = new Workload(a::nbdAddress, RES, 64L << 20, Seeds.seed("PauseResumeTest")).start()) {
                load.awaitMore(100, 60);
            }
            b.start();
            tern(b, "join", RES, "--peer", a.peer(), "--sync-rate", "8M");
            await().atMost(Duration.ofSeconds(30)).until(() -> copied(b) > 0);

            tern(b, "pause", "sync", RES);
            Map<String, Object> r = b.resource(RES);
            assertThat(r.get("sync_paused")).isEqualTo(true);
            assertThat(peers(r).get(0)).containsEntry("state", "Paused");
            long at = copied(b);
            assertThat(at).isLessThan(64L << 20);
            await("a paused sync copies nothing").during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                    .until(() -> copied(b) == at);
            // A handover to a node still copying is refused before the primary stops taking writes.
            assertThat(b.command(60, "primary", RES, "--home", b.home().toString())).as("tern primary on a copying node")
                    .isNotZero();
            assertThat(Files.readString(b.logs().resolve("command.err"))).contains("still copying its full sync");
            assertThat(a.resource(RES).get("role")).isEqualTo("Primary");
            try (NbdClient c = NbdClient.connect(a.nbdAddress(), RES)) {
                c.write(0, new byte[4096], false).get(10, java.util.concurrent.TimeUnit.SECONDS); // still takes writes
            }
            tern(b, "resume", "sync", RES);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

            tern(b, "pause", "fetch", RES);
            long received = number(b.resource(RES), "logged_lsn");
            try (Workload load = new Workload(a::nbdAddress, RES, 64L << 20, Seeds.seed("PauseResumeTest-2")).start()) {
                load.awaitMore(300, 60);
            }
            assertThat(number(b.resource(RES), "logged_lsn")).as("paused: nothing fetched").isEqualTo(received);
            b.stop();
            b.start();
            r = b.resource(RES);
            assertThat(r.get("fetch_paused")).as("the switch outlives a restart").isEqualTo(true);
            assertThat(peers(r).get(0)).containsEntry("state", "Paused");
            await("a paused fetch takes nothing").during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                    .until(() -> number(b.resource(RES), "logged_lsn") == received);
            tern(b, "resume", "fetch", RES);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(b.resource(RES).get("fetch_paused")).isEqualTo(false);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
        }
    }
}
