package io.tern.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.tern.node.HostPort;
import io.tern.node.NodeHome;

/**
 * Talks to the node's running daemon over its admin HTTP address (loopback), if one runs, and
 * turns its answers into {@link ExitCodes}: 404 no such resource, 409 refused (or the primary
 * cannot be reached), 503 busy, 400 usage; no daemon at all is {@link ExitCodes#NOT_RUNNING}.
 */
final class Daemon {
    /** How long an action may take: a handover waits for a replay, a verify reads the whole disk. */
    private static final Duration ACTION_TIMEOUT = Duration.ofMinutes(15);

    /** An answer: the HTTP status and body. */
    record Answer(int code, String body) {
    }

    private Daemon() {
    }

    /** GET or POST {@code path} on the daemon; {@code null} if no daemon runs for this home. */
    static Answer call(NodeHome home, String method, String path) throws IOException, InterruptedException {
        return call(home, method, path, Duration.ofSeconds(30));
    }

    private static Answer call(NodeHome home, String method, String path, Duration timeout)
            throws IOException, InterruptedException {
        Path run = home.runDir().resolve("daemon.properties");
        if (!Files.exists(run)) {
            return null;
        }
        HostPort http = HostPort.parse(NodeHome.load(run).getProperty("http"));
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create("http://" + http + path)).timeout(timeout);
        req = "POST".equals(method) ? req.POST(HttpRequest.BodyPublishers.noBody())
                .header("Authorization", "Bearer " + home.adminToken()) : req.GET();
        try {
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
                    .send(req.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body());
        } catch (java.net.ConnectException | HttpConnectTimeoutException e) {
            return null; // a stale run file: the daemon died
        }
    }

    /**
     * Asks a running daemon to serve a resource just made on disk; says what happened. With no
     * daemon, the resource is served from the node's next start.
     */
    static String open(NodeHome home, String resource) throws IOException, InterruptedException {
        Answer a = call(home, "POST", "/resources/" + resource + "/open");
        if (a == null) {
            return "the node serves it from its next start ('tern run --home " + home.dir() + "')";
        }
        if (a.code() != 200) {
            throw new CommandFailure(ExitCodes.FAILED, "it is made on disk, but the running daemon cannot open it: "
                    + a.body().strip() + "; see 'tern events " + resource + " --home " + home.dir() + "'");
        }
        return "the running daemon serves it now";
    }

    /**
     * POSTs an action to the running daemon of {@code home} and prints its answer. Actions may
     * take minutes (a handover waits for a replay), so the wait is long.
     *
     * @throws CommandFailure with the daemon's answer and its exit code unless it succeeded, or if none runs
     */
    static int act(HomeOption home, String path) throws IOException, InterruptedException {
        NodeHome h = home.open();
        Answer a;
        try {
            a = call(h, "POST", path, ACTION_TIMEOUT);
        } catch (HttpTimeoutException e) {
            throw new CommandFailure(ExitCodes.FAILED, "the daemon gave no answer within " + ACTION_TIMEOUT.toMinutes()
                    + " minutes; the action may still be running: see 'tern status --home " + h.dir() + "' and 'tern events"
                    + " --home " + h.dir() + "'");
        }
        if (a == null) {
            throw notRunning(h);
        }
        if (a.code() != 200) {
            throw failure(h, a);
        }
        System.out.print(a.body());
        return ExitCodes.OK;
    }

    /** The failure for a home whose daemon does not run. */
    static CommandFailure notRunning(NodeHome h) {
        return new CommandFailure(ExitCodes.NOT_RUNNING, "the node in " + h.dir() + " is not running: start it with "
                + "'tern run --home " + h.dir() + "' (or 'systemctl start tern@" + h.dir().getFileName() + "')");
    }

    /** Maps a daemon's refusal to its exit code; the daemon's one-line answer is the message. */
    static CommandFailure failure(NodeHome h, Answer a) {
        String body = a.body().strip().replace('\n', ' ');
        return switch (a.code()) {
            case 404 -> new CommandFailure(ExitCodes.NO_SUCH_RESOURCE, body + ": 'tern status --home " + h.dir()
                    + "' lists the node's resources");
            case 400 -> new CommandFailure(ExitCodes.USAGE, body);
            case 503 -> new CommandFailure(ExitCodes.BUSY, body.equals("interrupted")
                    ? "the daemon was interrupted (it is stopping?); check 'tern status --home " + h.dir() + "' and try again"
                    : body);
            case 409 -> new CommandFailure(primaryUnreachable(body) ? ExitCodes.PRIMARY_UNREACHABLE : ExitCodes.FAILED,
                    body);
            default -> new CommandFailure(ExitCodes.FAILED, "the daemon answered " + a.code() + ": " + body
                    + "; see its log and 'tern events --home " + h.dir() + "'");
        };
    }

    /**
     * Whether a refusal says that the primary is out of reach (a handover or an invalidate), by
     * the wording of {@code io.tern.node.Node}: the admin answer has no finer code than 409.
     */
    private static boolean primaryUnreachable(String body) {
        return body.contains("cannot be reached") || body.contains("no primary can be reached")
                || body.contains("did not answer the handover");
    }
}
