package io.tern.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.tern.node.Json;

/**
 * A real node process ({@code tern run}) for system tests, started with the test classpath and
 * the project's JVM flags. Its output goes to {@code daemon-N.out/.err} (and each command's to
 * {@code command.out/.err}) in its log folder, its home unless told otherwise, which a failing
 * test keeps. Killed with SIGKILL by {@link #kill()}.
 */
public final class TernNode implements AutoCloseable {
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Path home;
    private final Path logs;
    private Process process;
    private InetSocketAddress nbd;
    private InetSocketAddress http;
    private InetSocketAddress listen;
    private int starts;

    public TernNode(Path home) {
        this(home, home);
    }

    /**
     * A node whose output goes to {@code logs} rather than its home: for a home on a
     * {@link PowerLossFs}, where a cut would take the logs of the run that lost power with it.
     */
    public TernNode(Path home, Path logs) {
        this.home = home;
        this.logs = logs;
    }

    public Path home() {
        return home;
    }

    /** Where the daemon's and the commands' output goes. */
    public Path logs() {
        return logs;
    }

    /** Runs a tern command in its own JVM and waits for it; returns its exit code. */
    public int command(long seconds, String... args) throws IOException, InterruptedException {
        Process p = launch(args, logs.resolve("command.out"), logs.resolve("command.err"));
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("tern " + String.join(" ", args) + " did not finish in " + seconds + " s");
        }
        return p.exitValue();
    }

    /** Starts the daemon and waits (up to 60 s) until it reports READY. */
    public TernNode start() throws IOException, InterruptedException {
        starts++;
        Path out = logs.resolve("daemon-" + starts + ".out");
        process = launch(new String[] {"run", "--home", home.toString()}, null, logs.resolve("daemon-" + starts + ".err"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        String line;
        while (System.nanoTime() < deadline && (line = r.readLine()) != null) {
            lines.add(line);
            if (line.startsWith("READY ")) {
                for (String f : line.substring(6).split(" ")) {
                    String[] kv = f.split("=", 2);
                    String[] hp = kv[1].split(":");
                    InetSocketAddress a = new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
                    if (kv[0].equals("nbd")) {
                        nbd = a;
                    } else if (kv[0].equals("http")) {
                        http = a;
                    } else if (kv[0].equals("listen")) {
                        listen = a;
                    }
                }
                Files.write(out, lines);
                Thread drain = new Thread(() -> r.lines().forEach(l -> { }), "drain-" + home.getFileName());
                drain.setDaemon(true);
                drain.start();
                return this;
            }
        }
        Files.write(out, lines);
        process.destroyForcibly();
        throw new IOException("node in " + home + " did not become ready; see " + logs.resolve("daemon-" + starts + ".err"));
    }

    /**
     * Starts the daemon without waiting for it to be ready, for a test that kills it at any moment
     * of its start; its output goes to {@code daemon-N.out/.err}. Its addresses are not read:
     * {@link #nbdAddress()} and the others answer null until a {@link #start()}.
     */
    public TernNode startWithoutWaiting() throws IOException {
        starts++;
        nbd = null;
        http = null;
        listen = null;
        process = launch(new String[] {"run", "--home", home.toString()}, logs.resolve("daemon-" + starts + ".out"),
                logs.resolve("daemon-" + starts + ".err"));
        return this;
    }

    /** Whether the daemon of the last start said READY (for a start by {@link #startWithoutWaiting()}). */
    public boolean saidReady() throws IOException {
        Path out = logs.resolve("daemon-" + starts + ".out");
        return Files.exists(out) && Files.readString(out).contains("READY ");
    }

    public InetSocketAddress nbdAddress() {
        return nbd;
    }

    public InetSocketAddress httpAddress() {
        return http;
    }

    /** The replication listener's address. */
    public InetSocketAddress listenAddress() {
        return listen;
    }

    /** {@code host:port} of the replication listener, as {@code --peer} takes it. */
    public String peer() {
        return listen.getHostString() + ":" + listen.getPort();
    }

    /** The daemon's status document ({@code GET /status}). */
    @SuppressWarnings("unchecked")
    public Map<String, Object> status() throws IOException, InterruptedException {
        return (Map<String, Object>) Json.parse(http("GET", "/status"));
    }

    /** One resource's entry of the status document. */
    @SuppressWarnings("unchecked")
    public Map<String, Object> resource(String name) throws IOException, InterruptedException {
        for (Object r : (List<?>) status().get("resources")) {
            if (name.equals(((Map<?, ?>) r).get("name"))) {
                return (Map<String, Object>) r;
            }
        }
        throw new IOException("node in " + home + " has no resource " + name);
    }

    /** A number of a status entry. */
    public static long number(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).longValue();
    }

    /** GET or POST on the admin address; the body of a 200 answer, else an IOException with the answer. */
    public String http(String method, String path) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + http.getHostString() + ":" + http.getPort()
                + path)).timeout(Duration.ofSeconds(30));
        b = method.equals("POST") ? b.POST(HttpRequest.BodyPublishers.noBody()).header("Authorization", "Bearer "
                + java.nio.file.Files.readString(home.resolve("admin.token")).trim()) : b.GET();
        HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(method + " " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The running daemon's process id (for signals). */
    public long pid() {
        return process.pid();
    }

    /** SIGKILL, and wait for the process to be gone. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM (a clean shutdown: checkpoint and close), and wait. */
    public void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }

    private static Process launch(String[] args, Path stdout, Path stderr) throws IOException {
        List<String> cmd = io.tern.testing.ChildJvm.command("io.tern.cli.Main", "-Xmx512m", args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()));
        if (stdout != null) {
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(stdout.toFile()));
        }
        return pb.start();
    }
}
