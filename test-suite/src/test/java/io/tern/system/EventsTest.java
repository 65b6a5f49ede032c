package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.ChildJvm;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event journal of real node processes, read by {@code tern events} processes of their own:
 * followers started before a handover see its transitions, in order, on both nodes; the journal
 * survives a {@code kill -9} of its node and a restart; {@code --since} and the resource filter
 * select; an operator's refused action is journalled with its reason.
 */
class EventsTest {
    private static final String RES = "r0";

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void followersSeeAHandoverInOrderOnBothNodesAndTheJournalOutlivesKillNine() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "8M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            // b's peer goes Syncing -> Replicating; wait until a's journal has seen it too
            awaitEvent(a, e -> "peer".equals(e.get("type")) && "Replicating".equals(e.get("to")));

            Instant beforeHandover = Instant.now();
            Process followA = follow(a, "follow-a.jsonl");
            Process followB = follow(b, "follow-b.jsonl");
            try {
                // a follower prints the journal's past first: wait until both printed something
                awaitLines(a.logs().resolve("follow-a.jsonl"), 1);
                awaitLines(b.logs().resolve("follow-b.jsonl"), 1);
                tern(b, "primary", RES);
                await("a follows b").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                        .until(() -> "Secondary".equals(a.resource(RES).get("role")));

                List<Map<String, Object>> onB = awaitSequence(b.logs().resolve("follow-b.jsonl"), beforeHandover,
                        List.of(e -> "action".equals(e.get("type")) && String.valueOf(e.get("reason")).startsWith("tern primary: "),
                                e -> "role".equals(e.get("type")) && "Secondary".equals(e.get("from"))
                                        && "Primary".equals(e.get("to")),
                                e -> "epoch".equals(e.get("type")) && "1".equals(e.get("from")) && "2".equals(e.get("to"))));
                List<Map<String, Object>> onA = awaitSequence(a.logs().resolve("follow-a.jsonl"), beforeHandover,
                        List.of(e -> "role".equals(e.get("type")) && "Primary".equals(e.get("from"))
                                        && "Secondary".equals(e.get("to")),
                                e -> "epoch".equals(e.get("type")) && "2".equals(e.get("to"))));
                assertThat(onB).allSatisfy(e -> assertThat(e.get("node")).isEqualTo("b"));
                assertThat(onA).allSatisfy(e -> assertThat(e.get("node")).isEqualTo("a"));
            } finally {
                followA.destroyForcibly();
                followB.destroyForcibly();
            }

            // a refused action is journalled with its reason
            assertThat(b.command(60, "pause", "replay", RES, "--home", b.home().toString())).isNotZero();
            awaitEvent(b, e -> "action".equals(e.get("type"))
                    && String.valueOf(e.get("reason")).startsWith("tern pause-replay refused (409)"));

            // kill -9 and restart: what was journalled is still there, and the new run adds to it
            int before = read(b, "--since", "1d").size();
            b.kill();
            assertThat(read(b, "--since", "1d")).as("the journal read while b is down").hasSize(before);
            b.start();
            await("b's restart is journalled").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> {
                        List<Map<String, Object>> now = read(b);
                        return now.subList(Math.min(before, now.size()), now.size()).stream()
                                .anyMatch(e -> "node".equals(e.get("type")) && "running".equals(e.get("to")));
                    });
            List<Map<String, Object>> all = read(b);
            assertThat(all.size()).isGreaterThan(before);
            assertThat(all).extracting(e -> Instant.parse((String) e.get("time"))).isSorted();
            // --since selects by time; a resource filter keeps the node's own events out
            assertThat(read(b, "--since", beforeHandover.toString()))
                    .allSatisfy(e -> assertThat(Instant.parse((String) e.get("time"))).isAfterOrEqualTo(beforeHandover))
                    .hasSizeLessThan(all.size());
            assertThat(read(b, RES)).isNotEmpty().allSatisfy(e -> assertThat(e.get("resource")).isEqualTo(RES));
            // text output: one line per event
            assertThat(b.command(60, "events", "--home", b.home().toString())).isZero();
        }
    }

    private static Process follow(TernNode node, String file) throws IOException {
        List<String> cmd = ChildJvm.command("io.tern.cli.Main", "-Xmx256m",
                new String[] {"events", "--follow", "--json", "--home", node.home().toString()});
        return new ProcessBuilder(cmd).redirectOutput(node.logs().resolve(file).toFile())
                .redirectError(node.logs().resolve(file + ".err").toFile()).start();
    }

    private static void awaitLines(Path file, int n) {
        await(file + " has " + n + " lines").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> lines(file).size() >= n);
    }

    /** Waits until the file holds events after {@code since} matching the steps in this order; returns them. */
    private static List<Map<String, Object>> awaitSequence(Path file, Instant since,
                                                           List<java.util.function.Predicate<Map<String, Object>>> steps) {
        List<List<Map<String, Object>>> found = new ArrayList<>();
        await("events in order in " + file).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    List<Map<String, Object>> matched = new ArrayList<>();
                    int step = 0;
                    for (Map<String, Object> e : lines(file)) {
                        if (step < steps.size() && !Instant.parse((String) e.get("time")).isBefore(since)
                                && steps.get(step).test(e)) {
                            matched.add(e);
                            step++;
                        }
                    }
                    found.add(matched);
                    return step == steps.size();
                });
        return found.get(found.size() - 1);
    }

    private void awaitEvent(TernNode node, java.util.function.Predicate<Map<String, Object>> p) {
        await("an event in " + node.home()).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> read(node).stream().anyMatch(p));
    }

    /** {@code tern events --json [args]} of the node, parsed. */
    private static List<Map<String, Object>> read(TernNode node, String... args) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("events", "--json", "--home", node.home().toString()));
        full.addAll(List.of(args));
        Path out = node.logs().resolve("events.jsonl");
        Process p = new ProcessBuilder(ChildJvm.command("io.tern.cli.Main", "-Xmx256m", full.toArray(String[]::new)))
                .redirectOutput(out.toFile()).redirectError(node.logs().resolve("events.err").toFile()).start();
        if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("tern events did not end within 60 s");
        }
        assertThat(p.exitValue()).as("tern events (see %s)", node.logs().resolve("events.err")).isZero();
        return lines(out);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> lines(Path file) throws IOException {
        List<Map<String, Object>> events = new ArrayList<>();
        if (!Files.exists(file)) {
            return events;
        }
        List<String> all = Files.readAllLines(file);
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).isBlank()) {
                continue;
            }
            try {
                events.add((Map<String, Object>) Json.parse(all.get(i)));
            } catch (IllegalArgumentException partial) {
                if (i < all.size() - 1) {
                    throw partial; // only the last line may be caught half-written
                }
            }
        }
        return events;
    }
}
