package io.tern.system;

import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.LogFiles;
import io.tern.harness.Replication;
import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.ExternalTool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real node with two resources, r0 and r1, takes acknowledged 4 KiB writes on both and stops;
 * then one byte of the payload of an acknowledged record in the middle of r0's log is flipped.
 * On every later start r0 must refuse recovery — {@code Failed}, with an error naming the
 * record's LSN and the repair — serve nothing, and leave its log and data file byte for byte as
 * they were (no record after the bad one dropped, none applied); r1 must keep serving reads and
 * writes.
 *
 * <p>Killed with SIGKILL, the damaged record lies above r0's checkpoint, and later intact records
 * prove it had been durable; stopped cleanly, the stop checkpoints, and the damaged record lies
 * below the checkpoint. Below the checkpoint recovery verifies record headers only (the records
 * are applied already; reading every payload of a long retained log at each start would slow
 * every restart), so there the damage is to the header; a damaged payload below the checkpoint
 * is caught by the reader that ships it (transaction-log's CorruptionTest).
 */
class CorruptLogNodeTest {
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;
    /** Written before the checkpoint is awaited, then after it: the second batch lies above it. */
    private static final int FIRST_BATCH = 100;
    private static final int SECOND_BATCH = 300;
    private static final int MIN_ABOVE_CHECKPOINT = 50;
    private static final int ATTEMPTS = 3;
    private static final List<String> RESOURCES = List.of("r0", "r1");

    @TempDir
    Path dir;

    private TernNode node;
    /** The slots written to each resource, in order (every one acknowledged). */
    private final Map<String, List<Integer>> written = Map.of("r0", new ArrayList<>(), "r1", new ArrayList<>());
    private int nextSlot;

    @Test
    void aDamagedRecordAboveTheCheckpointFailsOnlyItsResourceAndChangesNothing() throws Exception {
        node = Replication.init(dir, "a", "c1");
        createResources();
        try {
            long logged = 0;
            long checkpoint = 0;
            for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
                node.start();
                writeBoth(FIRST_BATCH);
                long first = number(node.resource("r0"), "logged_lsn");
                // The checkpointer runs every few seconds: right after it covered the first batch,
                // the second one is written and the node killed before the next one can run.
                await("r0's checkpoint covers lsn " + first).atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(20))
                        .until(() -> number(node.resource("r0"), "checkpoint_lsn") >= first);
                writeBoth(SECOND_BATCH);
                logged = number(node.resource("r0"), "logged_lsn");
                node.kill();
                checkpoint = LogFiles.checkpointLsn(resourceDir("r0").resolve("checkpoint"));
                System.err.printf("attempt %d: r0 logged lsn %d, checkpoint lsn %d%n", attempt, logged, checkpoint);
                if (logged - checkpoint >= MIN_ABOVE_CHECKPOINT) {
                    break;
                }
            }
            assertThat(logged - checkpoint).as("records of r0 above its checkpoint after kill -9 (%d attempts)", ATTEMPTS)
                    .isGreaterThanOrEqualTo(MIN_ABOVE_CHECKPOINT);
            long bad = checkpoint + (logged - checkpoint) / 2;
            damageAndCheck(bad, false, "written when lsn", "was already durable");
        } finally {
            node.kill();
        }
    }

    @Test
    void aDamagedRecordBelowTheCheckpointFailsOnlyItsResourceAndChangesNothing() throws Exception {
        node = Replication.init(dir, "a", "c1");
        createResources();
        try {
            node.start();
            writeBoth(FIRST_BATCH + SECOND_BATCH);
            long logged = number(node.resource("r0"), "logged_lsn");
            node.stop(); // a clean stop checkpoints: every record lies below the checkpoint
            long checkpoint = LogFiles.checkpointLsn(resourceDir("r0").resolve("checkpoint"));
            assertThat(checkpoint).as("r0's checkpoint after a clean stop").isEqualTo(logged);
            long first = firstLsn(resourceDir("r0").resolve("log"));
            long bad = (first + logged) / 2;
            System.err.printf("r0 log holds lsn %d..%d, checkpoint lsn %d%n", first, logged, checkpoint);
            damageAndCheck(bad, true, "below the checkpoint");
        } finally {
            node.kill();
        }
    }

    /**
     * Flips a byte in the payload (or the header) of r0's record {@code bad} of the stopped node,
     * then starts it twice and checks each time that r0 is Failed and untouched and r1 serves.
     */
    private void damageAndCheck(long bad, boolean header, String... why) throws Exception {
        Path log = resourceDir("r0").resolve("log");
        Path data = resourceDir("r0").resolve("data.img");
        LogFiles.RecordAt at = LogFiles.find(log, bad);
        assertThat(at.payloadLength()).as("record lsn %d is a 4 KiB write", bad).isEqualTo(BLOCK);
        LogFiles.flipByte(at.file(), header ? at.position() + 33 : at.payload(BLOCK / 2));
        System.err.printf("flipped a %s byte of record lsn %d (%s offset %d)%n", header ? "header" : "payload", bad,
                at.file(), at.position());
        Map<String, String> logBefore = LogFiles.digests(log);
        String dataBefore = Replication.sha256(data);

        for (int start = 1; start <= 2; start++) {
            String when = "start " + start + " after the damage";
            node.start();
            Map<String, Object> r0 = statusFromCommand("r0");
            assertThat(r0.get("disk")).as("%s: r0's disk (status %s)", when, r0).isEqualTo("Failed");
            assertThat(String.valueOf(r0.get("error"))).as("%s: r0's error", when)
                    .containsPattern("record lsn " + bad + "\\b").contains("tern invalidate").contains(why);
            assertThat(node.resource("r0").get("disk")).as("%s: r0's disk in GET /status", when).isEqualTo("Failed");
            assertThat(node.resource("r1").get("disk")).as("%s: r1's disk", when).isEqualTo("UpToDate");
            assertServes("r1", when);
            assertNotServed("r0", when);
            assertThat(LogFiles.digests(log)).as("%s: r0's log files (%s)", when, log).isEqualTo(logBefore);
            assertThat(Replication.sha256(data)).as("%s: r0's data file", when).isEqualTo(dataBefore);
            node.stop();
            assertThat(LogFiles.digests(log)).as("%s, then a clean stop: r0's log files", when).isEqualTo(logBefore);
            assertThat(Replication.sha256(data)).as("%s, then a clean stop: r0's data file", when).isEqualTo(dataBefore);
        }
    }

    private void createResources() throws IOException, InterruptedException {
        for (String r : RESOURCES) {
            Replication.tern(node, "create", r, "--size", Long.toString(SIZE), "--log-segment", "1M");
        }
    }

    private Path resourceDir(String res) {
        return node.home().resolve("resources").resolve(res);
    }

    private static byte[] content(String res, int slot) {
        byte[] b = new byte[BLOCK];
        new Random(res.hashCode() * 1_000_003L + slot).nextBytes(b);
        return b;
    }

    /**
     * Writes {@code count} fresh slots to each resource, one write in flight per resource, so
     * that every record's committed field names the record before it.
     */
    private void writeBoth(int count) throws Exception {
        try (NbdClient c0 = NbdClient.connect(node.nbdAddress(), "r0");
             NbdClient c1 = NbdClient.connect(node.nbdAddress(), "r1")) {
            for (int i = 0; i < count; i++) {
                int slot = nextSlot++;
                CompletableFuture<Void> w0 = c0.write((long) slot * BLOCK, content("r0", slot), false);
                CompletableFuture<Void> w1 = c1.write((long) slot * BLOCK, content("r1", slot), false);
                w0.get(10, TimeUnit.SECONDS);
                w1.get(10, TimeUnit.SECONDS);
                written.get("r0").add(slot);
                written.get("r1").add(slot);
            }
        }
    }

    /** The resource's entry of {@code tern status RES --json}, as the operator runs it. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> statusFromCommand(String res) throws Exception {
        Path out = node.logs().resolve("command.out");
        Files.deleteIfExists(out);
        assertThat(node.command(60, "status", res, "--json", "--home", node.home().toString())).as("tern status").isZero();
        Map<String, Object> doc = (Map<String, Object>) Json.parse(Files.readString(out));
        for (Object r : (List<?>) doc.get("resources")) {
            if (res.equals(((Map<?, ?>) r).get("name"))) {
                return (Map<String, Object>) r;
            }
        }
        throw new AssertionError("tern status " + res + " --json has no entry for it: " + doc);
    }

    /** Every slot written reads back; a new write is acknowledged and reads back. */
    private void assertServes(String res, String when) throws Exception {
        try (NbdClient c = NbdClient.connect(node.nbdAddress(), res)) {
            for (int slot : written.get(res)) {
                assertThat(c.read((long) slot * BLOCK, BLOCK).get(10, TimeUnit.SECONDS))
                        .as("%s: %s slot %d reads back", when, res, slot).isEqualTo(content(res, slot));
            }
            int slot = nextSlot++;
            c.write((long) slot * BLOCK, content(res, slot), false).get(10, TimeUnit.SECONDS);
            written.get(res).add(slot);
            assertThat(c.read((long) slot * BLOCK, BLOCK).get(10, TimeUnit.SECONDS))
                    .as("%s: %s takes a new write", when, res).isEqualTo(content(res, slot));
        }
    }

    /** The export is refused; if a client does get in, every request fails. A real client fails too. */
    private void assertNotServed(String res, String when) throws Exception {
        NbdClient c;
        try {
            c = NbdClient.connect(node.nbdAddress(), res);
        } catch (IOException refused) {
            c = null;
            System.err.printf("%s: export %s refused: %s%n", when, res, refused.getMessage());
        }
        if (c != null) {
            try (NbdClient client = c) {
                assertFails(client.read(0, BLOCK), when + ": a read of " + res);
                assertFails(client.write(0, new byte[BLOCK], false), when + ": a write to " + res);
                assertFails(client.flush(), when + ": a flush of " + res);
            }
        }
        String uri = "nbd://" + node.nbdAddress().getHostString() + ":" + node.nbdAddress().getPort() + "/" + res;
        ExternalTool.Result r = ExternalTool.run(dir, 60, "qemu-io", "-f", "raw", "-c", "read 0 4k", uri);
        assertThat(r.exitCode() != 0 || r.stderr().contains("failed") || r.stdout().contains("failed"))
                .as("%s: qemu-io reading %s fails (stdout %s, stderr %s)", when, uri, r.stdout(), r.stderr()).isTrue();
    }

    private static void assertFails(CompletableFuture<?> f, String what) throws InterruptedException, TimeoutException {
        try {
            f.get(10, TimeUnit.SECONDS);
            throw new AssertionError(what + " succeeded on a resource that is Failed");
        } catch (ExecutionException expected) {
            // refused with an NBD error or the connection closed: nothing served
        }
    }

    /** The first LSN of the oldest segment file of a log folder. */
    private static long firstLsn(Path log) throws IOException {
        try (Stream<Path> s = Files.list(log)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".seg")).sorted().findFirst()
                    .map(n -> Long.parseLong(n.substring(0, n.length() - 4)))
                    .orElseThrow(() -> new AssertionError("no segment in " + log));
        }
    }
}
