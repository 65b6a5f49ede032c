package io.tern.cli;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.tern.node.HostPort;
import io.tern.node.Node;
import io.tern.node.NodeHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run the node daemon in the foreground until it is stopped (SIGTERM or Ctrl-C).",
                "It serves the node's resources over NBD, replicates them, and answers the admin commands. Prints "
                        + "'READY nbd=H:P http=H:P listen=H:P' once it serves."},
        footer = {"", "Examples:",
                "  tern run --home /var/lib/tern/a",
                "  systemctl start tern@a        # the same as a service, home /var/lib/tern/a",
                "", "Exit codes:",
                "  0  stopped by SIGTERM or Ctrl-C",
                "  1  could not start: no node home, it runs already, an address in use",
                "  2  usage"})
final class RunCommand implements Callable<Integer> {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RunCommand.class);
    /** The addresses of a node home, as named in its {@code node.properties}, in the order the node binds them. */
    private static final String[][] ADDRESSES = {{"listen", "replication"}, {"nbd", "NBD"}, {"http", "admin HTTP"}};

    @Mixin
    HomeOption home;

    @Override
    public Integer call() throws Exception {
        if (System.getenv("TERN_LOG_LEVEL") == null) {
            // A daemon tells its operator what it does (connections, syncs); commands stay quiet.
            ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                    .setLevel(ch.qos.logback.classic.Level.INFO);
        }
        NodeHome h = home.open();
        Daemon.Answer running = Daemon.call(h, "GET", "/status");
        if (running != null) {
            throw new CommandFailure(ExitCodes.FAILED, "the node in " + h.dir() + " runs already (see "
                    + h.runDir().resolve("daemon.properties") + "): stop it first, or see 'tern status --home " + h.dir()
                    + "'");
        }
        try {
            h.transport(); // checked first: a missing certificate is said in one line, before anything starts
        } catch (IOException | IllegalStateException e) {
            throw new CommandFailure(ExitCodes.FAILED, "cannot start: " + e.getMessage());
        }
        Node node;
        try {
            node = Node.start(h);
        } catch (BindException e) {
            throw new CommandFailure(ExitCodes.FAILED, inUse(h, e));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "tern-shutdown"));
        // SIGHUP: reread certificate, key, CA and members, like 'tern cert reload'.
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> {
            try {
                log.info("SIGHUP: {}", node.reloadTransport());
            } catch (IOException | RuntimeException e) {
                log.error("SIGHUP: cannot reload the TLS material; the node keeps the one it had: {}", e.getMessage());
            }
        });
        System.out.println("READY nbd=" + node.nbdAddress().getHostString() + ":" + node.nbdAddress().getPort()
                + " http=" + node.httpAddress().getHostString() + ":" + node.httpAddress().getPort()
                + " listen=" + node.replicationAddress().getHostString() + ":" + node.replicationAddress().getPort());
        System.out.flush();
        stopped.await();
        return ExitCodes.OK;
    }

    /**
     * Which of the node's addresses could not be bound, found by trying each again (the node
     * released them all when it failed to start), and what to do about it.
     */
    private static String inUse(NodeHome h, BindException failure) throws IOException {
        for (String[] a : ADDRESSES) {
            HostPort hp = h.address(a[0]);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(hp.host(), hp.port()));
            } catch (IOException e) {
                return "cannot listen on " + hp + ", the " + a[1] + " address ('" + a[0] + "' in " + h.dir()
                        .resolve("node.properties") + ") is in use: stop what uses it (ss -ltnp 'sport = :"
                        + hp.port() + "') or change the port there";
            }
        }
        return "cannot listen on one of the node's addresses ('listen', 'nbd', 'http' in " + h.dir()
                .resolve("node.properties") + "): " + failure.getMessage() + "; stop what uses it or change the port there";
    }
}
