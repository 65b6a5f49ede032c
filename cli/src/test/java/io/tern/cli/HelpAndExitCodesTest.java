package io.tern.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import io.tern.node.Node;
import io.tern.node.HostPort;
import io.tern.node.NodeHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every command documents itself ({@code --help} with an example and its exit codes), and its
 * expected failures end as one line on stderr with the documented exit code of {@link ExitCodes}.
 */
class HelpAndExitCodesTest {
    /** A line the logging of an in-process daemon wrote, not the CLI. */
    private static final Pattern LOG_LINE = Pattern.compile("^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} .*");

    @TempDir
    Path dir;

    /** What one run of the command line returned and printed. */
    record Result(int code, String out, String err) {
        /** The lines on stderr from the CLI itself (an in-process daemon's log lines left out). */
        List<String> errLines() {
            return err.lines().filter(l -> !LOG_LINE.matcher(l).matches()).toList();
        }

        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    @Test
    void everyCommandHasHelpWithAnExampleAndItsExitCodes() {
        for (String name : Main.commandLine().getSubcommands().keySet()) {
            Result r = run(name, "--help");
            assertThat(r.code()).as("tern %s --help: %s", name, r).isZero();
            assertThat(r.out()).as("tern %s --help", name).contains("Example").contains("Exit codes");
            assertThat(r.err()).as("tern %s --help", name).isEmpty();
        }
    }

    @Test
    void theMainHelpHasTheWholeTable() {
        Result r = run("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Example").contains("Exit codes");
        for (int code = 0; code <= 6; code++) {
            assertThat(r.out()).as("code %d", code).containsPattern("(?m)^  " + code + "  \\S");
        }
        assertThat(r.out().lines().filter(l -> l.length() > 80)).as("lines wider than 80").isEmpty();
        assertThat(ExitCodes.USAGE).isEqualTo(CommandLine.ExitCode.USAGE);
    }

    @Test
    void usageErrorsAreOneLineAndExitTwo() throws Exception {
        String home = init("a");
        assertOneLineError(run("no-such-command"), ExitCodes.USAGE, "tern: unknown command 'no-such-command'");
        assertOneLineError(run("creat", "r0", "--home", home), ExitCodes.USAGE, "did you mean create");
        assertOneLineError(run("create", "r0", "--home", home), ExitCodes.USAGE,
                "tern create: Missing required option: '--size=SIZE'; see 'tern create --help'");
        assertOneLineError(run("create", "r0", "--size", "12Q", "--home", home), ExitCodes.USAGE,
                "tern create: '12Q' is not a size");
        assertOneLineError(run("create", "r0", "--size", "8M", "--nope", "--home", home), ExitCodes.USAGE,
                "tern create: Unknown option: '--nope'");
        assertOneLineError(run("pause", "nothing", "r0", "--home", home), ExitCodes.USAGE,
                "tern pause: what to pause is fetch, replay or sync, not 'nothing'");
        assertOneLineError(run("primary", "r0", "--allow-inconsistent", "--home", home), ExitCodes.USAGE,
                "tern primary: --allow-inconsistent goes with --force");
        assertThat(Files.exists(dir.resolve("a/resources/r0"))).as("nothing made").isFalse();
    }

    @Test
    void aMissingHomeOrOneThatIsNotANodeHomeSaysToRunInit() throws Exception {
        Path none = dir.resolve("none");
        assertOneLineError(run("create", "r0", "--size", "8M", "--home", none.toString()), ExitCodes.FAILED,
                "tern create: no node home at " + none + " (no such folder): run 'tern init --home " + none);
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertOneLineError(run("primary", "r0", "--home", empty.toString()), ExitCodes.FAILED,
                "tern primary: " + empty + " is not a Tern node home: run 'tern init --home " + empty);
        String home = init("a");
        assertOneLineError(run("init", "--home", home, "--node", "a"), ExitCodes.FAILED,
                "tern init: " + home + " is the home of a node already");
    }

    @Test
    void commandsThatNeedTheDaemonSayHowToStartIt() throws Exception {
        String home = init("a");
        assertThat(run("create", "r0", "--size", "8M", "--home", home).code()).isZero();
        for (List<String> args : List.of(List.of("primary", "r0"), List.of("secondary", "r0"), List.of("invalidate", "r0"),
                List.of("pause", "replay", "r0"), List.of("resume", "fetch", "r0"), List.of("verify", "r0"),
                List.of("adjust", "r0", "--log-quota", "1G"))) {
            String[] argv = java.util.stream.Stream.concat(args.stream(), java.util.stream.Stream.of("--home", home))
                    .toArray(String[]::new);
            assertOneLineError(run(argv), ExitCodes.NOT_RUNNING, "tern " + args.get(0) + ": the node in "
                    + Path.of(home).toAbsolutePath() + " is not running: start it with 'tern run --home ");
        }
        // a run file left by a daemon that died: its address refuses the connection
        Files.createDirectories(Path.of(home, "run"));
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Files.writeString(Path.of(home, "run", "daemon.properties"), "http=127.0.0.1\\:" + s.getLocalPort() + "\n");
        } // closed: nothing listens there now
        assertOneLineError(run("primary", "r0", "--home", home), ExitCodes.NOT_RUNNING, "is not running");
    }

    @Test
    void theDaemonsAnswersMapToTheirExitCodes() throws Exception {
        String home = init("a");
        assertThat(run("create", "r0", "--size", "8M", "--home", home).code()).isZero();
        try (Node node = Node.start(NodeHome.open(Path.of(home)))) {
            assertOneLineError(run("pause", "replay", "r9", "--home", home), ExitCodes.NO_SUCH_RESOURCE,
                    "tern pause: no resource 'r9' on node a: 'tern status --home ");
            assertOneLineError(run("primary", "r9", "--home", home), ExitCodes.NO_SUCH_RESOURCE,
                    "tern primary: no resource 'r9' on node a");
            assertOneLineError(run("verify", "r0", "--home", home), ExitCodes.FAILED, "tern verify: r0 ");
            assertOneLineError(run("adjust", "r0", "--log-quota", "1K", "--home", home), ExitCodes.FAILED,
                    "tern adjust: a log quota of 1024 bytes is less than 4 log segments");

            Result already = run("primary", "r0", "--home", home);
            assertThat(already.code()).as("%s", already).isZero();
            assertThat(already.out()).contains("is its primary already");

            // step down to follow a primary that is not there: nothing can hand over or resync
            assertThat(run("secondary", "r0", "--peer", "127.0.0.1:1", "--home", home).code()).isZero();
            assertOneLineError(run("primary", "r0", "--home", home), ExitCodes.PRIMARY_UNREACHABLE,
                    "tern primary: r0: the primary cannot be reached from node a");
            assertOneLineError(run("invalidate", "r0", "--home", home), ExitCodes.PRIMARY_UNREACHABLE,
                    "tern invalidate: r0: no primary can be reached");

            // a second daemon for the same home is refused before it binds anything
            assertOneLineError(run("run", "--home", home), ExitCodes.FAILED, "tern run: the node in "
                    + Path.of(home).toAbsolutePath() + " runs already");
        }
    }

    @Test
    void answersWithoutACaseOfTheirOwnMapToo() throws Exception {
        NodeHome h = NodeHome.open(Path.of(init("a")));
        assertThat(Daemon.failure(h, new Daemon.Answer(503, "the admin endpoint is busy; try again\n")).exitCode())
                .isEqualTo(ExitCodes.BUSY);
        assertThat(Daemon.failure(h, new Daemon.Answer(503, "interrupted\n")).getMessage()).contains("try again");
        assertThat(Daemon.failure(h, new Daemon.Answer(400, "adjust what? (log-quota=SIZE)\n")).exitCode())
                .isEqualTo(ExitCodes.USAGE);
        CommandFailure internal = Daemon.failure(h, new Daemon.Answer(500, "internal error: x\ny\n"));
        assertThat(internal.exitCode()).isEqualTo(ExitCodes.FAILED);
        assertThat(internal.getMessage()).doesNotContain("\n").contains("answered 500");
    }

    @Test
    void aPortInUseNamesTheAddressAndWhereItIsSet() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String home = dir.resolve("busy").toString();
            assertThat(run("init", "--home", home, "--node", "a", "--listen", "127.0.0.1:" + taken.getLocalPort(),
                    "--nbd", "127.0.0.1:0", "--http", "127.0.0.1:0", "--transport", "plain").code()).isZero();
            assertOneLineError(run("run", "--home", home), ExitCodes.FAILED, "tern run: cannot listen on 127.0.0.1:"
                    + taken.getLocalPort() + ", the replication address ('listen' in ");
        }
    }

    @Test
    void anAdvertisedAddressIsStoredAndNeedsAPort() throws Exception {
        String home = dir.resolve("adv").toString();
        assertOneLineError(run("init", "--home", home, "--node", "a", "--listen", "127.0.0.1:0", "--advertise",
                "127.0.0.1:0", "--transport", "plain"), ExitCodes.USAGE, "--advertise needs a port");
        assertThat(Path.of(home, "node.properties")).as("a refused init makes nothing").doesNotExist();
        assertThat(run("init", "--home", home, "--node", "a", "--listen", "127.0.0.1:0", "--advertise",
                "127.0.0.1:7900", "--transport", "plain").code()).isZero();
        NodeHome h = NodeHome.open(Path.of(home));
        assertThat(h.advertised()).isEqualTo(HostPort.parse("127.0.0.1:7900"));
        assertThat(NodeHome.open(Path.of(init("plain"))).advertised()).as("no --advertise: the listen address")
                .isEqualTo(HostPort.parse("127.0.0.1:0"));
    }

    /** A node home with every address on a free port. */
    private String init(String node) {
        String home = dir.resolve(node).toString();
        Result r = run("init", "--home", home, "--node", node, "--listen", "127.0.0.1:0", "--nbd", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--transport", "plain");
        assertThat(r.code()).as("%s", r).isZero();
        return home;
    }

    private static void assertOneLineError(Result r, int code, String start) {
        assertThat(r.code()).as("%s", r).isEqualTo(code);
        assertThat(r.errLines()).as("%s", r).hasSize(1);
        assertThat(r.errLines().get(0)).as("%s", r).contains(start);
        assertThat(r.errLines().get(0)).startsWith("tern");
    }

    private static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
