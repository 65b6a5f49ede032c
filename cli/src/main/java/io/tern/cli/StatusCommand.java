package io.tern.cli;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

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
        String query = json ? "" : "?format=text";
        Daemon.Answer a = Daemon.call(h, "GET", (resource != null ? "/status/" + resource : "/status") + query);
        return a != null && a.code() == 200 ? a.body() : null;
    }
}
