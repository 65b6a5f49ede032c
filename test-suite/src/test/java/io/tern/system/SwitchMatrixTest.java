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
import java.util.Random;

import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Switch-over cases in the spirit of MARS's switch-to-primary tests, one after the other on one
 * pair of real node processes with 1 MiB log segments (so segments roll and retire around every
 * fork): a forced failover while both are connected and idle (the old primary follows by itself);
 * a handover refused while the primary is unreachable; a forced failover while the old primary is
 * connected and taking writes (a split brain, resolved by invalidate); and a primary that steps
 * down with no one to follow, which follows whoever becomes primary.
 */
class SwitchMatrixTest {
    private static final String RES = "r0";
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void switchOverCases() throws Exception {
        Random random = new Random(Seeds.seed("SwitchMatrixTest"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "16M", "--log-segment", "1M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer(), "--log-segment", "1M");
            load(a, random, 300);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

            // Connected and idle, forced: b holds all of a's log, so a follows b by itself.
            tern(b, "primary", RES, "--force");
            awaitRole(a, "Secondary");
            load(b, random, 300);
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);
            assertThat(a.resource(RES).get("split_brain")).isEqualTo(false);
            assertThat(exportDigest(a, RES, dir)).as("connected, idle, forced").isEqualTo(exportDigest(b, RES, dir));

            // A handover needs the primary: refused, with the reason, while it is down.
            b.kill();
            assertThat(a.command(60, "primary", RES, "--home", a.home().toString())).isNotZero();
            assertThat(Files.readString(a.logs().resolve("command.err"))).contains("cannot be reached");
            assertThat(a.resource(RES).get("role")).isEqualTo("Secondary");
            b.start();
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);

            // Connected and busy, forced: b goes on taking writes a never gets, a split brain on both sides;
            // invalidate on b resolves it for a.
            try (Workload w = new Workload(b::nbdAddress, RES, SIZE, random.nextLong()).start()) {
                w.awaitMore(200, 60);
                tern(a, "primary", RES, "--force");
                w.awaitMore(100, 60); // b still takes writes: they lie past the fork
            }
            await("connected, busy, forced: both report the split brain").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100)).until(() -> Boolean.TRUE.equals(a.resource(RES).get("split_brain"))
                            && Boolean.TRUE.equals(b.resource(RES).get("split_brain")));
            assertThat(b.resource(RES).get("role")).as("nothing moves: b stays primary").isEqualTo("Primary");
            tern(b, "invalidate", RES);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(b.resource(RES).get("split_brain")).isEqualTo(false);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> Boolean.FALSE.equals(a.resource(RES).get("split_brain")));
            assertThat(exportDigest(b, RES, dir)).as("connected, busy, forced, invalidated")
                    .isEqualTo(exportDigest(a, RES, dir));

            // A primary steps down with no one to follow; it follows whoever becomes primary.
            tern(a, "secondary", RES);
            Map<String, Object> ra = a.resource(RES);
            assertThat(ra.get("role")).isEqualTo("Secondary");
            assertThat(peers(ra).get(0).get("address")).isEqualTo("(none)");
            long epoch = number(b.resource(RES), "epoch");
            tern(b, "primary", RES, "--force"); // both were secondaries: b takes over from what it holds
            load(b, random, 200);
            awaitCaughtUp(b, RES, Duration.ofSeconds(60), a);
            assertThat(number(a.resource(RES), "epoch")).isGreaterThan(epoch);
            assertThat(exportDigest(a, RES, dir)).as("stepped down, then followed").isEqualTo(exportDigest(b, RES, dir));
        }
    }

    private static void load(TernNode primary, Random random, int writes) throws Exception {
        try (Workload w = new Workload(primary::nbdAddress, RES, SIZE, random.nextLong()).start()) {
            w.awaitMore(writes, 60);
        }
    }

    private static void awaitRole(TernNode n, String role) {
        await(n.home().getFileName() + " becomes " + role).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(100)).until(() -> role.equals(n.resource(RES).get("role")));
    }
}
