package io.tern.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import io.tern.node.Json;
import io.tern.node.NodeHome;
import io.tern.node.OfflineStatus;
import io.tern.node.StatusText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tern status}: asks the running daemon for its status document ({@code GET /status}) and
 * prints it for people or as JSON; with no daemon, what the home says ({@link OfflineStatus}).
 * With {@code --watch} it polls every interval until interrupted: redrawn in place on a terminal,
 * plain timestamped blocks elsewhere, one compact JSON document per line with {@code --json}.
 */
@Command(name = "status", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show the node's resources: role, disk, epoch, log positions and space, and per peer its state,"
                + " received and replayed lsn and lag; a running full sync or resync as a progress bar with rate and ETA.",
                "Asks the running daemon; when none runs, shows what the home says (\"running\": false, disk Unknown)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:status shown (also when Ctrl-C ends --watch)",
                "1:no node home, or its state cannot be read",
                "2:bad usage",
                "4:no such resource on this node"},
        footerHeading = "%nExamples:%n",
        footer = {"  tern status --home /srv/tern",
                "  tern status r0 --watch --interval 2 --home /srv/tern",
                "  tern status --json --watch > status.jsonl     # one JSON document per line",
                "The JSON document is described by docs/status.schema.json."})
final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HomeOption home;

    @Parameters(index = "0", arity = "0..1", paramLabel = "RES", description = "Only this resource.")
    String resource;

    @Option(names = "--json", description = "Machine-readable output (with --watch: one compact document per line).")
    boolean json;

    @Option(names = "--watch", description = "Show the status again every interval until interrupted (Ctrl-C):"
            + " redrawn in place on a terminal, one block after another with its time elsewhere.")
    boolean watch;

    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "1",
            description = "Seconds between two updates of --watch (default: ${DEFAULT-VALUE}); fractions allowed.")
    double interval;

    @Option(names = "--count", paramLabel = "N", defaultValue = "0",
            description = "With --watch: stop after N updates (default: until interrupted).")
    int count;

    @Override
    public Integer call() throws Exception {
        if (!(interval > 0) || interval > 86400) {
            throw new ParameterException(spec.commandLine(), "--interval must be more than 0 and at most 86400 seconds");
        }
        if (count < 0) {
            throw new ParameterException(spec.commandLine(), "--count must not be negative");
        }
        NodeHome h = NodeHome.open(home.resolve());
        if (resource != null && !h.resources().contains(resource)) {
            System.err.println("tern status: no resource '" + resource + "' on node " + h.node()
                    + ": 'tern status --home " + h.dir() + "' lists its resources");
            return ExitCodes.NO_SUCH_RESOURCE;
        }
        if (!watch) {
            Map<String, Object> status = poll(h);
            System.out.print(json ? Json.write(status) : StatusText.render(status));
            return 0;
        }
        return watch(h, System.out, System.console() != null);
    }

    /**
     * Polls and prints until {@code --count} updates were shown or the process is interrupted
     * (SIGINT, SIGTERM): then the frame being printed is completed and the process ends with 0.
     */
    private int watch(NodeHome h, PrintStream out, boolean terminal) throws InterruptedException {
        WatchOutput frames = new WatchOutput(terminal, json);
        SyncRates rates = new SyncRates();
        String every = intervalText();
        Object printing = new Object();
        Thread onInterrupt = new Thread(() -> {
            synchronized (printing) {
                out.flush();
                Runtime.getRuntime().halt(0); // Ctrl-C is how a watch ends: not a failure
            }
        }, "status-watch-interrupt");
        Runtime.getRuntime().addShutdownHook(onInterrupt);
        try {
            long periodNanos = (long) (interval * 1e9);
            long next = System.nanoTime();
            for (int n = 1; count == 0 || n <= count; n++) {
                String body;
                try {
                    Map<String, Object> status = poll(h);
                    body = json ? Json.line(status) : StatusText.render(status, rates.update(status, System.nanoTime()));
                } catch (IOException | RuntimeException e) {
                    // The daemon may be starting or stopping, a resource being created: say why, poll again.
                    // A JSON line stays a status document: the reason goes to stderr instead.
                    body = json ? null : "cannot read the status: " + e.getMessage() + "\n";
                    if (json) {
                        System.err.println("tern status: cannot read the status: " + e.getMessage());
                    }
                }
                if (body != null) {
                    synchronized (printing) {
                        out.print(frames.frame(body, Instant.now(), every));
                        out.flush();
                    }
                }
                if (count != 0 && n == count) {
                    break;
                }
                next += periodNanos;
                long now = System.nanoTime();
                if (next - now <= 0) {
                    next = now + periodNanos; // a slow poll: the next one a whole interval from now, no burst
                }
                TimeUnit.NANOSECONDS.sleep(next - now);
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(onInterrupt);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs: it ends the process
            }
        }
        return 0;
    }

    private String intervalText() {
        return java.math.BigDecimal.valueOf(interval).stripTrailingZeros().toPlainString() + "s";
    }

    /**
     * The running daemon's status document, or what the home says if no daemon answers (or the
     * daemon does not serve the resource, e.g. one created on disk a moment ago).
     */
    @SuppressWarnings("unchecked")
    private Map<String, Object> poll(NodeHome h) throws IOException, InterruptedException {
        Daemon.Answer a = Daemon.call(h, "GET", resource != null ? "/status/" + resource : "/status");
        if (a != null && a.code() == 200) {
            return (Map<String, Object>) Json.parse(a.body());
        }
        Map<String, Object> status = OfflineStatus.of(h);
        if (resource != null) {
            status.put("resources", ((List<?>) status.get("resources")).stream()
                    .filter(r -> resource.equals(((Map<?, ?>) r).get("name"))).toList());
        }
        return status;
    }
}
