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

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;
import io.tern.harness.HistoryWriter;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Planned handover between two real node processes under a continuous NBD write load, back and
 * forth: {@code tern primary r0} on the secondary makes the primary stop taking writes (its
 * clients see EPERM), the secondary replays to the primary's last write and takes over in the next
 * epoch, and the old primary follows it by itself. After each switch every acknowledged write is
 * on the new primary, the old one's export refuses writes, and both images are equal.
 */
class HandoverTest {
    private static final String RES = "r0";
    private static final long SIZE = 32L << 20;
    private static final int ROUNDS = 5;

    @TempDir
    Path dir;

    @Test
    void handoverUnderLoadBackAndForthLosesNoAcknowledgedWrite() throws Exception {
        Random random = new Random(Seeds.seed("HandoverTest"));
        BlockHistory history = new BlockHistory(SIZE, random.nextLong());
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            TernNode primary = a;
            TernNode secondary = b;
            for (int round = 1; round <= ROUNDS; round++) {
                long epoch = number(primary.resource(RES), "epoch");
                int refusedBefore = history.errors().size();
                try (HistoryWriter writer = new HistoryWriter(NbdClient.connect(primary.nbdAddress(), RES), history,
                        random.nextLong(), 16, round).start()) {
                    writer.awaitAcked(200 + random.nextInt(800), Duration.ofSeconds(60));
                    tern(secondary, "primary", RES); // while the writer still writes
                }
                // The writer was still writing when the primary stopped taking writes: it met EPERM.
                assertThat(history.errors()).as("round %d: writes refused, all with EPERM while the primary handed "
                        + "over", round).hasSizeGreaterThan(refusedBefore).allSatisfy(e -> assertThat(e).contains("errno 1"));
                TernNode old = primary;
                primary = secondary;
                secondary = old;
                Map<String, Object> now = primary.resource(RES);
                assertThat(now.get("role")).as("round %d", round).isEqualTo("Primary");
                assertThat(number(now, "epoch")).as("round %d: the next epoch", round).isEqualTo(epoch + 1);
                try (NbdClient c = NbdClient.connect(primary.nbdAddress(), RES)) {
                    BlockHistory.Check check = history.verify(c, "round " + round + ": the new primary");
                    System.err.printf("round %d: %s took over in epoch %d; %s%n", round, primary == a ? "a" : "b",
                            epoch + 1, check);
                }
                TernNode follower = secondary;
                await("round " + round + ": the old primary follows").atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(100)).until(() -> "Secondary".equals(follower.resource(RES).get("role")));
                try (NbdClient c = NbdClient.connect(secondary.nbdAddress(), RES)) {
                    assertThat(c.write(0, new byte[4096], false)).as("round %d: the old primary's export", round)
                            .failsWithin(Duration.ofSeconds(10))
                            .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                            .havingCause().isInstanceOfSatisfying(NbdClient.NbdError.class,
                                    e -> assertThat(e.errno()).isEqualTo(1));
                }
                awaitCaughtUp(primary, RES, Duration.ofSeconds(60), secondary);
                assertThat(peers(primary.resource(RES))).anySatisfy(p -> assertThat(p.get("state")).isEqualTo("Replicating"));
                assertThat(exportDigest(secondary, RES, dir)).as("round %d: images", round)
                        .isEqualTo(exportDigest(primary, RES, dir));
            }
            // No primary at all (a cluster manager demoted it): the secondary that holds every
            // member's records may become primary without --force, and the other follows it.
            tern(primary, "secondary", RES);
            TernNode demoted = primary;
            TernNode promoted = secondary;
            await("the demoted primary is a secondary").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> "Secondary".equals(demoted.resource(RES).get("role")));
            tern(promoted, "primary", RES);
            assertThat(Files.readString(promoted.logs().resolve("command.out"))).contains("promotion with no primary");
            assertThat(promoted.resource(RES).get("role")).isEqualTo("Primary");
            await("the demoted primary follows the new one").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100)).until(() -> peers(promoted.resource(RES)).stream()
                            .anyMatch(p -> "Replicating".equals(p.get("state"))));
            try (NbdClient c = NbdClient.connect(promoted.nbdAddress(), RES)) {
                history.verify(c, "after a promotion with no primary");
            }
            awaitCaughtUp(promoted, RES, Duration.ofSeconds(60), demoted);
            assertThat(exportDigest(demoted, RES, dir)).isEqualTo(exportDigest(promoted, RES, dir));
            assertThat(history.acked()).isGreaterThan(ROUNDS * 200L);
            assertThat(a.resource(RES).get("split_brain")).isEqualTo(false);
            assertThat(b.resource(RES).get("split_brain")).isEqualTo(false);
        }
    }
}
