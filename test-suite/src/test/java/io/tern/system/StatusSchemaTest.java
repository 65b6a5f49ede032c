package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.ChildJvm;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tern status --json} of real nodes validates against {@code docs/status.schema.json}
 * (with a real JSON Schema validator, draft 2020-12, which also refuses any field the schema does
 * not describe): the offline document of a primary and of a secondary, a primary and a secondary
 * while a paced full sync copies, both once replicating, a primary whose secondary it went Ahead
 * of ({@code Behind}, with dirty bytes), and both sides of a split brain after a forced failover.
 * One pair of nodes walks through all of them. On the way, {@code tern status --watch} runs under
 * a pseudo-terminal ({@code script}) and must redraw in place, end with exit 0 on Ctrl-C, and
 * print no escape code into a pipe.
 */
class StatusSchemaTest {
    private static final String RES = "r0";
    private static final Path SCHEMA_FILE = Path.of("..", "docs", "status.schema.json");
    private static final String ESC = "\033";

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    private final Schema schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
            .getSchema(read(SCHEMA_FILE), InputFormat.JSON);
    private final List<String> validated = new ArrayList<>();

    @Test
    @SuppressWarnings("unchecked")
    void statusOfEveryKindOfNodeValidatesAndWatchRedrawsInPlaceOnATerminal() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            tern(a, "create", RES, "--size", "32M", "--log-segment", "1M", "--log-quota", "4M");
            Map<String, Object> offline = valid("offline primary", cli(a, "status", "--json"));
            assertThat(offline).containsEntry("running", false);

            a.start();
            Random random = new Random(Seeds.seed("StatusSchemaTest"));
            try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                write(client, random, 32);
            }
            b.start();
            tern(b, "join", RES, "--peer", a.peer(), "--sync-rate", "4M"); // 32 MiB: about 8 s of copying
            // The documents of the moment the copy runs (a GET takes no JVM start: the window is short).
            String[] whileSyncing = new String[2];
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
                whileSyncing[0] = b.http("GET", "/status/" + RES);
                whileSyncing[1] = a.http("GET", "/status");
                Map<String, Object> sr = resource((Map<String, Object>) Json.parse(whileSyncing[0]));
                Map<String, Object> sync = (Map<String, Object>) sr.get("sync");
                return "copying".equals(sync.get("phase")) && number(sync, "copied_bytes") > 0
                        && sync.containsKey("rate_bytes_per_second") && "Syncing".equals(peers(sr).get(0).get("state"))
                        && "Syncing".equals(peers(resource((Map<String, Object>) Json.parse(whileSyncing[1]))).get(0).get("state"));
            });
            assertThat(resource(valid("syncing secondary", whileSyncing[0])).get("disk")).isEqualTo("Inconsistent");
            valid("primary of a syncing secondary", whileSyncing[1]);

            watchOnATerminal(b);
            String piped = cli(b, "status", "--watch", "--count", "2", "--interval", "0.2");
            assertThat(piped).as("watch into a pipe").doesNotContain(ESC).contains("--- ").contains("r0 role:Secondary");

            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            Map<String, Object> primary = valid("primary", cli(a, "status", RES, "--json"));
            assertThat(peers(resource(primary)).get(0)).containsEntry("state", "Replicating").containsKey("lag_seconds");
            Map<String, Object> secondary = valid("secondary", b.http("GET", "/status"));
            assertThat(resource(secondary).get("disk")).isEqualTo("UpToDate");
            assertThat(((Map<String, Object>) resource(secondary).get("sync")).get("phase")).isEqualTo("done");

            // Behind: the secondary is away while the primary logs past its 4 MiB quota.
            b.stop();
            valid("offline secondary", cli(b, "status", "--json"));
            try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                write(client, random, 96);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
                    write(client, random, 8);
                    return "Behind".equals(peers(a.resource(RES)).get(0).get("state"));
                });
            }
            Map<String, Object> ahead = valid("primary with a Behind peer", a.http("GET", "/status"));
            assertThat(peers(resource(ahead)).get(0)).containsEntry("state", "Behind").containsKey("dirty_bytes");

            // Split brain: the primary's site goes; the secondary, forced to primary, starts a new
            // epoch; the old primary returns with the writes the new one never received.
            a.kill();
            b.start();
            tern(b, "primary", RES, "--force");
            a.start();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() ->
                    Boolean.TRUE.equals(a.resource(RES).get("split_brain")) && Boolean.TRUE.equals(b.resource(RES).get("split_brain")));
            for (TernNode n : List.of(a, b)) {
                String name = n.home().getFileName().toString();
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() ->
                        peers(n.resource(RES)).stream().anyMatch(p -> "SplitBrain".equals(p.get("state")) && p.containsKey("fork_lsn")));
                Map<String, Object> forked = valid("split brain on " + name, n.http("GET", "/status"));
                assertThat(resource(forked)).containsEntry("split_brain", true).containsEntry("role", "Primary");
            }
        }
        System.err.println("validated against " + SCHEMA_FILE + ": " + String.join(", ", validated));
    }

    /**
     * The validator refuses what the schema does not allow: a role of no enum, a field it does not
     * describe, a live document without its addresses. A resource that could not be opened (as
     * FailedResource.status() writes it: no peers, disk Failed, an error) is allowed, without its error not.
     */
    @Test
    void theSchemaRefusesUnknownValuesAndFields() {
        String failed = """
                {"node": "a", "running": true, "pid": 42, "cluster": "c1", "listen": "0.0.0.0:7800",
                 "advertise": "203.0.113.7:7800", "nbd": "127.0.0.1:10809",
                 "resources": [{"name": "r0", "role": "Primary", "disk": "Failed", "size": 8388608, "epoch": 1,
                 "durability": "flush", "logged_lsn": 0, "replayed_lsn": 0, "split_brain": false,
                 "error": "log of r0: record at lsn 12 is corrupt; repair with tern invalidate r0 from a peer"}]}""";
        assertThat(schema.validate(failed, InputFormat.JSON)).isEmpty();
        assertThat(schema.validate(failed.replaceAll(",\\s*\"error\": \"[^\"]*\"", ""), InputFormat.JSON)).isNotEmpty();
        assertThat(schema.validate(failed.replaceAll("\\s*\"advertise\": \"[^\"]*\",", ""), InputFormat.JSON))
                .as("live: the address the members dial is required").isNotEmpty();
        String doc = """
                {"node": "a", "running": false, "resources": [{"name": "r0", "role": "Primary", "disk": "Unknown",
                 "size": 8388608, "epoch": 1, "durability": "sync", "logged_lsn": null, "replayed_lsn": 0,
                 "checkpoint_lsn": 0, "split_brain": false, "peers": []}]}""";
        assertThat(schema.validate(doc, InputFormat.JSON)).isEmpty();
        assertThat(schema.validate(doc.replace("\"Primary\"", "\"Leader\""), InputFormat.JSON)).isNotEmpty();
        assertThat(schema.validate(doc.replace("\"peers\": []", "\"peers\": [], \"lag\": 1"), InputFormat.JSON)).isNotEmpty();
        assertThat(schema.validate(doc.replace("\"running\": false", "\"running\": true"), InputFormat.JSON))
                .as("live: pid, cluster, addresses required; logged_lsn a number").isNotEmpty();
    }

    /**
     * {@code tern status --watch} under a pseudo-terminal: after three frames, Ctrl-C (through
     * the terminal's line discipline) ends it with exit 0. Every frame after the first starts by
     * moving the cursor home and the one before it cleared the rest of the screen: redrawn in
     * place. The output is kept next to the nodes for the reader.
     */
    private void watchOnATerminal(TernNode node) throws Exception {
        List<String> java = ChildJvm.command("io.tern.cli.Main", "-Xmx256m", "status", "--watch", "--interval", "0.3",
                "--home", node.home().toString());
        // exec: script runs the command with $SHELL -c, and a shell left in between (dash does not
        // exec a lone command) would take the Ctrl-C itself and end with 130, whatever tern did.
        String command = "exec " + java.stream().map(StatusSchemaTest::shellQuote).collect(Collectors.joining(" "));
        Process script = new ProcessBuilder("script", "-q", "-e", "-c", command, "/dev/null")
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("watch-pty.err").toFile())).start();
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> copy(script.getInputStream(), captured), "watch-pty-reader");
        reader.setDaemon(true);
        reader.start();
        try {
            await("three frames").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> frames(captured) >= 3);
            OutputStream keyboard = script.getOutputStream();
            keyboard.write(3); // Ctrl-C
            keyboard.flush();
            assertThat(script.waitFor(15, TimeUnit.SECONDS)).as("watch ends on Ctrl-C").isTrue();
            assertThat(script.exitValue()).as("exit code after Ctrl-C").isZero();
        } finally {
            script.destroyForcibly();
            reader.join(5000);
        }
        String out;
        synchronized (captured) {
            out = captured.toString(StandardCharsets.UTF_8);
        }
        Files.writeString(dir.resolve("watch-pty.out"), out);
        String[] frames = out.split("\033\\[H", -1);
        assertThat(out).as("the first frame clears the screen").startsWith("\033[H\033[2J");
        assertThat(frames.length - 1).as("frames drawn from the cursor's home").isGreaterThanOrEqualTo(3);
        for (int i = 1; i < frames.length; i++) {
            assertThat(frames[i]).as("frame %d", i).contains("every 0.3s: tern status").contains("r0 role:Secondary")
                    .contains("\033[K");
        }
        assertThat(out).as("each redraw clears below the last frame, then goes home")
                .contains("\033[J\033[Hevery 0.3s: tern status");
    }

    private static int frames(ByteArrayOutputStream captured) {
        String s;
        synchronized (captured) {
            s = captured.toString(StandardCharsets.UTF_8);
        }
        int n = 0;
        for (int i = s.indexOf("\033[J"); i >= 0; i = s.indexOf("\033[J", i + 1)) {
            n++;
        }
        return n;
    }

    private static void copy(InputStream in, ByteArrayOutputStream to) {
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                synchronized (to) {
                    to.write(buf, 0, n);
                }
            }
        } catch (IOException e) {
            // the pty closed
        }
    }

    private static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** Runs {@code tern ARGS --home HOME}; its standard output. */
    private static String cli(TernNode node, String... args) throws IOException, InterruptedException {
        Files.deleteIfExists(node.logs().resolve("command.out"));
        tern(node, args);
        return Files.readString(node.logs().resolve("command.out"));
    }

    /** Validates a status document against the schema, keeps it in the test's folder, and returns it parsed. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> valid(String what, String json) throws IOException {
        Files.writeString(dir.resolve("status-" + what.replace(' ', '-') + ".json"), json);
        List<Error> errors = schema.validate(json, InputFormat.JSON);
        assertThat(errors).as("%s: %s", what, json).isEmpty();
        validated.add(what);
        return (Map<String, Object>) Json.parse(json);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> resource(Map<String, Object> status) {
        return (Map<String, Object>) ((List<?>) status.get("resources")).get(0);
    }

    /** {@code count} writes of 64 KiB at random places of the first 8 MiB, each acknowledged before the next. */
    private static void write(NbdClient client, Random random, int count) throws Exception {
        byte[] block = new byte[64 << 10];
        for (int i = 0; i < count; i++) {
            random.nextBytes(block);
            client.write((long) random.nextInt(128) * block.length, block, false).get(10, TimeUnit.SECONDS);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the schema " + p.toAbsolutePath(), e);
        }
    }
}
