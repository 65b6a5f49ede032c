package io.tern.cli;

import java.util.concurrent.Callable;

import io.tern.node.HostPort;
import io.tern.node.NodeHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Make a new node home: the folder of a node's settings and resources.",
                "It holds the node's name, cluster and addresses, then its resources. Refuses a folder that is a node "
                        + "home already."},
        footer = {"", "Examples:",
                "  tern init --home /var/lib/tern/a --node a --listen 10.0.0.1:7800",
                "  tern init --home /tmp/b --node b --listen 127.0.0.1:0 --http 127.0.0.1:0 --transport plain",
                "  tern init --home /var/lib/tern/c --node c --listen 0.0.0.0:7800 --advertise 203.0.113.7:7800",
                "", "Exit codes:",
                "  0  made",
                "  1  refused: a node home already, or the folder cannot be written",
                "  2  usage: e.g. a bad name or address"})
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

    @Option(names = "--advertise", paramLabel = "H:P", description = "The replication address the other members dial, "
            + "when it is not --listen's (a NAT, a port forward, a proxy); default: the --listen address.")
    String advertise;

    @Option(names = "--nbd", paramLabel = "H:P", description = "NBD address (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:10809")
    String nbd;

    @Option(names = "--http", paramLabel = "H:P", description = "Admin HTTP address (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:7801")
    String http;

    @Option(names = "--transport", paramLabel = "tls|plain", defaultValue = "tls",
            description = "How peers connect: tls (mutual TLS 1.3; needs 'tern cert issue') or plain TCP, allowed on a "
                    + "loopback --listen only (default: ${DEFAULT-VALUE}).")
    String transport;

    @Override
    public Integer call() throws Exception {
        if (!transport.equals("tls") && !transport.equals("plain")) {
            throw new CommandFailure(ExitCodes.USAGE, "--transport is tls or plain, not '" + transport + "'");
        }
        if (transport.equals("plain") && !NodeHome.isLoopback(HostPort.parse(listen).host())) {
            throw new CommandFailure(ExitCodes.USAGE, "--transport plain is allowed on a loopback --listen only, not "
                    + listen + ": peers beyond this machine need certificates (tern cert)");
        }
        java.nio.file.Path dir = home.resolve();
        if (java.nio.file.Files.exists(dir.resolve("node.properties"))) {
            throw new CommandFailure(ExitCodes.FAILED, dir + " is the home of a node already: use it as it is, or pick "
                    + "another --home");
        }
        HostPort advertised = advertise == null ? null : HostPort.parse(advertise);
        if (advertised != null && advertised.port() == 0) {
            throw new CommandFailure(ExitCodes.USAGE, "--advertise needs a port other members can dial, not " + advertise);
        }
        NodeHome h = NodeHome.init(dir, node, cluster, HostPort.parse(listen), HostPort.parse(nbd), HostPort.parse(http));
        if (advertised != null) {
            h.setNodeProperty("advertise", advertised.toString());
        }
        if (transport.equals("plain")) {
            h.setNodeProperty("transport", "plain");
        }
        System.out.println("node " + node + " initialised in " + h.dir() + (transport.equals("tls")
                ? "; next: tern cert issue " + node + " --ca CA_DIR --home " + h.dir() + " (tern cert --help)" : ""));
        return ExitCodes.OK;
    }
}
