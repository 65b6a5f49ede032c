package io.tern.cli;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import io.tern.node.Node;
import io.tern.node.NodeHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the node daemon in the foreground until it is stopped (SIGTERM or Ctrl-C).")
final class RunCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Override
    public Integer call() throws Exception {
        if (System.getenv("TERN_LOG_LEVEL") == null) {
            // A daemon tells its operator what it does (connections, syncs); commands stay quiet.
            ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                    .setLevel(ch.qos.logback.classic.Level.INFO);
        }
        Node node = Node.start(NodeHome.open(home.resolve()));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "tern-shutdown"));
        System.out.println("READY nbd=" + node.nbdAddress().getHostString() + ":" + node.nbdAddress().getPort()
                + " http=" + node.httpAddress().getHostString() + ":" + node.httpAddress().getPort()
                + " listen=" + node.replicationAddress().getHostString() + ":" + node.replicationAddress().getPort());
        System.out.flush();
        stopped.await();
        return 0;
    }
}
