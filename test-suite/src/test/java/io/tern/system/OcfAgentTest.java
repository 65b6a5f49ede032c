package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.ChildJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The Pacemaker resource agent ({@code cli/src/dist/ocf/tern}) against a real pair of nodes.
 * Node a is the primary (a daemon of the harness); node b, the secondary, is handed to the agent
 * with {@code start_daemon=true}, so the agent launches and stops b's daemon itself.
 * {@code ocf-tester} (package resource-agents) drives b through its whole sequence: probes, start,
 * a first promote that is a real handover from a, demotes, promotes that resume b's own history,
 * double start and stop. Then the agent alone: on a (its daemon the harness's,
 * {@code start_daemon=false}) a promote with no primary to hand over is refused until
 * {@code force_failover=true}; on b a promote is again a real handover, after which
 * {@code tern status --json} says Primary and a follows. Everything (homes, daemon and agent
 * output, the tester's report) stays in {@code target/ocf-agent-test}.
 */
@Isolated("ocf-tester gives each action 20 s (Pacemaker's default); a node start on a loaded machine can take longer")
class OcfAgentTest {
    private static final String RES = "r0";
    private static final Path AGENT = Path.of("..", "cli", "src", "dist", "ocf", "tern").toAbsolutePath().normalize();
    private static final Path OCF_TESTER = Path.of("/usr/sbin/ocf-tester");

    @Test
    void agentPassesOcfTesterAndPromotesByHandover() throws Exception {
        Path dir = Path.of("target", "ocf-agent-test").toAbsolutePath();
        deleteTree(dir);
        Files.createDirectories(dir);
        assertThat(Files.isExecutable(OCF_TESTER)).as("%s is missing: install the Debian package resource-agents "
                + "(scripts/install-deps ops); this test needs it", OCF_TESTER).isTrue();
        assertThat(onPath("xmllint")).as("xmllint is missing (Debian package libxml2-utils): ocf-tester validates "
                + "the agent's meta-data with it").isTrue();
        assertThat(Files.isExecutable(AGENT)).as("the agent %s must exist with mode 0755", AGENT).isTrue();
        Path launcher = writeLauncher(dir);
        Path bHome = dir.resolve("b");
        try (TernNode a = init(dir, "a", "ocf"); TernNode b = init(dir, "b", "ocf")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            b.stop(); // from here on the agent runs b's daemon

            Map<String, String> forB = new HashMap<>(Map.of("home", bHome.toString(), "resource", RES,
                    "tern", launcher.toString(), "start_daemon", "true"));
            List<String> cmd = new ArrayList<>(List.of(OCF_TESTER.toString(), "-v", "-n", "tern"));
            forB.forEach((k, v) -> cmd.addAll(List.of("-o", k + "=" + v)));
            cmd.add(AGENT.toString());
            long t0 = System.nanoTime();
            Run tester = run(dir.resolve("ocf-tester.out"), 900, Map.of(), cmd);
            System.err.printf("ocf-tester: exit %d in %.1f s (report: %s)%n", tester.code(),
                    (System.nanoTime() - t0) / 1e9, dir.resolve("ocf-tester.out"));
            assertThat(tester.code()).as("ocf-tester exit code; its report:\n%s", tester.output()).isZero();
            assertThat(tester.output()).contains(AGENT + " passed all tests")
                    .contains("Testing: promotion of promoted resource").doesNotContain("* rc=");
            // The tester's last word was stop: b's daemon is gone, a is a secondary that followed b.
            assertThat(statusOf(launcher, bHome, dir).get("running")).isEqualTo(false);
            await("a follows b after the tester's promotes").atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(200)).until(() -> "Secondary".equals(a.resource(RES).get("role")));

            // a was not the last primary and there is none to hand over: refused unless force_failover.
            Map<String, String> forA = new HashMap<>(Map.of("home", a.home().toString(), "resource", RES,
                    "tern", launcher.toString(), "start_daemon", "false"));
            Path rsc = Files.createDirectories(dir.resolve("rsctmp"));
            assertThat(agent(dir, rsc, forA, "start").code()).isZero();
            assertThat(agent(dir, rsc, forA, "monitor").code()).as("a started, unpromoted").isZero();
            Run refused = agent(dir, rsc, forA, "promote");
            assertThat(refused.code()).as("promote of a without a primary to hand over: %s", refused.output())
                    .isEqualTo(1);
            assertThat(refused.output()).contains("force_failover=false");
            assertThat(a.resource(RES).get("role")).isEqualTo("Secondary");
            forA.put("force_failover", "true");
            assertThat(agent(dir, rsc, forA, "promote").code()).as("forced failover to a").isZero();
            assertThat(agent(dir, rsc, forA, "monitor").code()).as("a promoted").isEqualTo(8);

            // b: the agent launches its daemon again; promote is a real handover from a.
            assertThat(agent(dir, rsc, forB, "start").code()).isZero();
            assertThat(agent(dir, rsc, forB, "monitor").code()).as("b started, unpromoted").isZero();
            Run promote = agent(dir, rsc, forB, "promote");
            assertThat(promote.code()).as("promote of b: %s", promote.output()).isZero();
            Map<String, Object> bStatus = statusOf(launcher, bHome, dir);
            Map<?, ?> r0 = (Map<?, ?>) ((List<?>) bStatus.get("resources")).get(0);
            assertThat(r0.get("role")).as("b after the agent's promote (tern status --json)").isEqualTo("Primary");
            assertThat(r0.get("chain_head_node")).isEqualTo("b");
            assertThat(Files.readString(dir.resolve("b").resolve("run").resolve("ocf-daemon.log")))
                    .as("b's daemon log").contains("handover from a");
            assertThat(agent(dir, rsc, forB, "monitor").code()).as("b promoted").isEqualTo(8);
            await("a follows b after the handover").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> "Secondary".equals(a.resource(RES).get("role")));
            assertThat(agent(dir, rsc, forA, "monitor").code()).as("a unpromoted again").isZero();

            assertThat(agent(dir, rsc, forB, "demote").code()).isZero();
            assertThat(agent(dir, rsc, forB, "stop").code()).isZero();
            assertThat(agent(dir, rsc, forB, "monitor").code()).as("b stopped").isEqualTo(7);
            assertThat(agent(dir, rsc, forA, "stop").code()).isZero();
            assertThat(agent(dir, rsc, forA, "monitor").code()).as("a stopped for the cluster").isEqualTo(7);
            assertThat(a.isAlive()).as("stop with start_daemon=false leaves the daemon running").isTrue();
        } finally {
            killAgentDaemon(bHome);
        }
    }

    /** A {@code tern} launcher for the agent: the test classpath and the project's JVM flags. */
    private static Path writeLauncher(Path dir) throws IOException {
        String line = ChildJvm.command("io.tern.cli.Main", "-Xmx256m").stream().map(OcfAgentTest::quote)
                .collect(Collectors.joining(" "));
        Path launcher = dir.resolve("tern");
        Files.writeString(launcher, "#!/bin/sh\nexec " + line + " \"$@\"\n");
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        return launcher;
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** One action of the agent, run as Pacemaker would (OCF_RESKEY_* variables); output appended to agent.out. */
    private static Run agent(Path dir, Path rsctmp, Map<String, String> params, String action)
            throws IOException, InterruptedException {
        Map<String, String> env = new HashMap<>();
        env.put("OCF_ROOT", "/usr/lib/ocf");
        env.put("OCF_RESOURCE_INSTANCE", "tern");
        env.put("OCF_RESKEY_CRM_meta_timeout", "120000");
        env.put("OCF_RESKEY_CRM_meta_interval", action.equals("monitor") ? "30000" : "0");
        env.put("HA_RSCTMP", rsctmp.toString());
        params.forEach((k, v) -> env.put("OCF_RESKEY_" + k, v));
        Run r = run(dir.resolve("agent-last.out"), 300, env, List.of(AGENT.toString(), action));
        Files.writeString(dir.resolve("agent.out"), "== " + params.get("home") + " " + action + " -> " + r.code() + "\n"
                + r.output(), StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
        return r;
    }

    /** {@code tern status RES --json} for a home, through the launcher the agent uses. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> statusOf(Path launcher, Path home, Path dir) throws IOException, InterruptedException {
        Path out = dir.resolve("status.json");
        Process p = new ProcessBuilder(launcher.toString(), "status", RES, "--json", "--home", home.toString())
                .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("status.err").toFile()))
                .start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("tern status finishes").isTrue();
        assertThat(p.exitValue()).as("tern status exit code").isZero();
        return (Map<String, Object>) Json.parse(Files.readString(out));
    }

    private record Run(int code, String output) {
    }

    private static Run run(Path output, long seconds, Map<String, String> env, List<String> cmd)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(cmd + " did not finish in " + seconds + " s; output in " + output);
        }
        return new Run(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
    }

    private static boolean onPath(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, name))) {
                return true;
            }
        }
        return false;
    }

    /** A daemon the agent launched for b and a failed assertion left running. */
    private static void killAgentDaemon(Path home) throws IOException {
        for (Path f : List.of(home.resolve("run").resolve("ocf-daemon.pid"), home.resolve("run").resolve("daemon.properties"))) {
            if (!Files.exists(f)) {
                continue;
            }
            String text = Files.readString(f).strip();
            String pid = f.getFileName().toString().endsWith(".pid") ? text
                    : text.lines().filter(l -> l.startsWith("pid=")).map(l -> l.substring(4)).findFirst().orElse("");
            if (!pid.isEmpty()) {
                ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
