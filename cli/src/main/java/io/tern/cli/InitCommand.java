package io.tern.cli;

import java.util.concurrent.Callable;

import io.tern.node.HostPort;
import io.tern.node.NodeHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "init", mixinStandardHelpOptions = true, description = "Make a new node home.")
final class InitCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Option(names = "--node", required = true, description = "This node's name, unique in its cluster.")
    String node;

    @Option(names = "--cluster", paramLabel = "ID", defaultValue = NodeHome.DEFAULT_CLUSTER,
            description = "Cluster id; peers of another cluster are refused (default: ${DEFAULT-VALUE}).")
    String cluster;

    @Option(names = "--listen", paramLabel = "H:P", description = "Replication address (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:7800")
    String listen;

    @Option(names = "--nbd", paramLabel = "H:P", description = "NBD address (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:10809")
    String nbd;

    @Option(names = "--http", paramLabel = "H:P", description = "Admin HTTP address (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:7801")
    String http;

    @Override
    public Integer call() throws Exception {
        NodeHome h = NodeHome.init(home.resolve(), node, cluster, HostPort.parse(listen), HostPort.parse(nbd), HostPort.parse(http));
        System.out.println("node " + node + " initialised in " + h.dir());
        return 0;
    }
}
