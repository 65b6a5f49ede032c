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
import java.util.concurrent.TimeUnit;

import io.tern.harness.TernNode;
import io.tern.block.nbd.NbdClient;
import io.tern.testing.Seeds;
import io.tern.testing.SmallFileSystem;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The secondary's home sits on a real, small file system (a tmpfs) that fills up while the
 * primary takes writes (its data file lies elsewhere): the secondary's log refuses records past its reserve instead of
 * writing into a full file system, says why in its status, keeps its consistent image, and
 * catches up by itself once the operator frees space. The primary never notices.
 */
class ReplicationFullDiskTest {
    private static final String RES = "r0";
    /** The log's default reserve ({@code LogConfig}): the secondary's log stops this far from full. */
    private static final long RESERVE = 64L << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    /** Writes {@code count} random 4 KiB blocks over the 16 MiB resource, each acknowledged before the next. */
    private static void writeRandomBlocks(TernNode node, int count, String seedName) throws Exception {
        try (NbdClient client = NbdClient.connect(node.nbdAddress(), RES)) {
            Random random = new Random(Seeds.seed(seedName));
            for (int i = 0; i < count; i++) {
                byte[] block = new byte[4096];
                random.nextBytes(block);
                client.write(4096L * random.nextInt(4096), block, false).get(10, TimeUnit.SECONDS);
            }
        }
    }

    private static void keepLogs(Path home, Path to) throws java.io.IOException {
        Files.createDirectories(to);
        try (var files = Files.list(home)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (p.getFileName().toString().endsWith(".err") || p.getFileName().toString().endsWith(".out")) {
                    Files.copy(p, to.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    @Test
    void aSecondaryWhoseDiskFillsStopsReceivingCleanlyAndCatchesUpOnceThereIsRoom() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("b-fs"), 96L << 20)) {
            try (TernNode a = init(dir, "a", "c1"); TernNode b = init(fs.path(), "b", "c1")) {
                try {
                    a.start();
                    tern(a, "create", RES, "--size", "16M");
                    b.start();
                    tern(b, "join", RES, "--peer", a.peer(), "--data", dir.resolve("b-data.img").toString(),
                            "--log-segment", "1M");
                    awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
                    // Replay paused: no checkpoint retires (and recycles) segments, so the log must grow.
                    tern(b, "pause", "replay", RES);
                    Path filler = fs.fillLeaving(RESERVE + (1 << 20));
                    // 4 MiB of writes: the secondary's log has room for about 1 MiB of them.
                    writeRandomBlocks(a, 1024, "ReplicationFullDiskTest");
                    long logged = number(a.resource(RES), "logged_lsn");
                    await().atMost(Duration.ofSeconds(30)).until(() ->
                            String.valueOf(peers(b.resource(RES)).get(0).get("error")).contains("no space for the log"));
                    Map<String, Object> stuck = b.resource(RES);
                    assertThat(stuck.get("disk")).isNotEqualTo("Failed");
                    assertThat(number(stuck, "replayed_lsn")).as("the secondary is behind").isLessThan(logged);
                    assertThat(fs.usable()).as("the reserve is left free").isGreaterThan(RESERVE / 2);
                    // The primary goes on: its writes do not wait for the stuck secondary.
                    try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                        client.write(0, new byte[4096], false).get(10, TimeUnit.SECONDS);
                    }
                    assertThat(number(a.resource(RES), "logged_lsn")).isEqualTo(logged + 1);

                    Files.delete(filler); // the operator frees space: the secondary catches up by itself
                    tern(b, "resume", "replay", RES);
                    awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                    Map<String, Object> r = b.resource(RES);
                    assertThat(r.get("disk")).isEqualTo("UpToDate");
                    assertThat(peers(r).get(0)).doesNotContainKey("error");
                    assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
                    assertThat(Files.readString(b.home().resolve("daemon-1.err")))
                            .contains("no space for the log").doesNotContain("InternalError").doesNotContain("replay stopped");
                } finally {
                    keepLogs(b.home(), dir.resolve("b-logs")); // the tmpfs goes with the unmount
                }
            }
        }
    }

    @Test
    void aPrimaryWhoseLogRunsOutOfRoomReleasesTheDisconnectedSecondaryAndNeverFailsAWrite() throws Exception {
        try (SmallFileSystem fs = SmallFileSystem.mount(dir.resolve("a-fs"), 512L << 20)) {
            try (TernNode a = init(fs.path(), "a", "c1"); TernNode b = init(dir, "b", "c1")) {
                try {
                    a.start();
                    // Small segments, so that retention can free the log within the test; a log quota
                    // larger than the file system, so that room runs out before the quota does.
                    tern(a, "create", RES, "--size", "16M", "--log-segment", "1M", "--log-quota", "1G", "--data",
                            dir.resolve("a-data.img").toString());
                    b.start();
                    tern(b, "join", RES, "--peer", a.peer());
                    awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
                    b.stop(); // b is away: its position holds the primary's log back
                    long bAt = number(peers(a.resource(RES)).get(0), "replayed_lsn");
                    Path filler = fs.fillLeaving(320L << 20);
                    // 640 MiB of writes: twice the room the log has while it keeps b's records. Not
                    // one of them may fail.
                    writeRandomBlocks(a, 163840, "ReplicationFullDiskTest-primary");
                    Map<String, Object> primary = a.resource(RES);
                    assertThat(peers(primary).get(0)).containsEntry("node", "b").containsEntry("state", "Behind");
                    assertThat(number(primary, "log_first_lsn")).as("the log no longer holds b's records")
                            .isGreaterThan(bAt + 1);
                    assertThat(number(primary, "logged_lsn")).isEqualTo(bAt + 163840);
                    assertThat(fs.usable()).isGreaterThan(RESERVE);
                    assertThat(Files.readString(a.home().resolve("daemon-1.err")))
                            .contains("member b, disconnected at lsn " + bAt + ", no longer holds the log back");
                    Files.delete(filler);

                    // b comes back: what it needs is gone, so it full-syncs by itself, then follows.
                    b.start();
                    awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
                    assertThat(peers(a.resource(RES)).get(0)).containsEntry("state", "Replicating");
                    assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
                } finally {
                    keepLogs(a.home(), dir.resolve("a-logs"));
                }
            }
        }
    }
}
