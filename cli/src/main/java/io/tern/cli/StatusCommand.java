package io.tern.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.tern.node.HostPort;
import io.tern.node.Json;
import io.tern.node.NodeHome;
import io.tern.node.OfflineStatus;
import io.tern.node.StatusText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the node's resources: role, disk state, epoch, log positions.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", arity = "0..1", paramLabel = "RES", description = "Only this resource.")
    String resource;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        NodeHome h = NodeHome.open(home.resolve());
        if (resource != null && !h.resources().contains(resource)) {
            System.err.println("no resource '" + resource + "' on node " + h.node());
            return 2;
        }
        String live = fromDaemon(h);
        if (live != null) {
            System.out.print(live);
            return 0;
        }
        Map<String, Object> status = OfflineStatus.of(h);
        if (resource != null) {
            status.put("resources", ((List<?>) status.get("resources")).stream()
                    .filter(r -> resource.equals(((Map<?, ?>) r).get("name"))).toList());
        }
        System.out.print(json ? Json.write(status) : StatusText.render(status));
        return 0;
    }

    /** The running daemon's answer, or null if no daemon answers. */
    private String fromDaemon(NodeHome h) throws IOException, InterruptedException {
        Path run = h.runDir().resolve("daemon.properties");
        if (!Files.exists(run)) {
            return null;
        }
        HostPort http = HostPort.parse(NodeHome.load(run).getProperty("http"));
        String query = json ? "" : "?format=text";
        String path = "/status" + query;
        if (resource != null) {
            path = "/status/" + resource + query;
        }
        try {
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
                    .send(HttpRequest.newBuilder(URI.create("http://" + http + path)).timeout(Duration.ofSeconds(5)).build(),
                            HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : null;
        } catch (java.net.ConnectException e) {
            return null; // a stale run file: the daemon died
        }
    }
}
