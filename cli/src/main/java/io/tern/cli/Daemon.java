package io.tern.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.tern.node.HostPort;
import io.tern.node.NodeHome;

/** Talks to the node's running daemon over its admin HTTP address (loopback), if one runs. */
final class Daemon {
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
        req = "POST".equals(method) ? req.POST(HttpRequest.BodyPublishers.noBody()) : req.GET();
        try {
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
                    .send(req.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body());
        } catch (java.net.ConnectException e) {
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
            return "the node serves it from its next start ('tern run')";
        }
        if (a.code() != 200) {
            throw new IllegalStateException("the running daemon cannot open it: " + a.body().strip());
        }
        return "the running daemon serves it now";
    }

    /**
     * POSTs an action to the running daemon of {@code home} and prints its answer. Actions may
     * take minutes (a handover waits for a replay), so the wait is long.
     *
     * @throws IllegalStateException with the daemon's answer unless it succeeded, or if none runs
     */
    static int act(HomeOption home, String path) throws IOException, InterruptedException {
        NodeHome h = NodeHome.open(home.resolve());
        Answer a = call(h, "POST", path, Duration.ofMinutes(15));
        if (a == null) {
            throw new IllegalStateException("no daemon runs for " + h.dir() + ": start it with 'tern run'");
        }
        if (a.code() != 200) {
            throw new IllegalStateException(a.body().strip());
        }
        System.out.print(a.body());
        return 0;
    }
}
