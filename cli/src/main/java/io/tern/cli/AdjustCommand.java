package io.tern.cli;

import java.util.concurrent.Callable;

import io.tern.node.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tern adjust RES --log-quota SIZE}: change a resource's settings on a running node. */
@Command(name = "adjust", mixinStandardHelpOptions = true,
        description = {"Change a resource's settings on the running node.", "They are stored and apply at once."},
        footer = {"", "Examples:",
                "  tern adjust r0 --log-quota 20G --home /var/lib/tern/a",
                "  tern adjust r0 --log-quota 0 --home /var/lib/tern/a   # back to the default",
                "", "Exit codes:",
                "  0  changed",
                "  1  refused: e.g. a quota below four log segments",
                "  2  usage: e.g. a bad size",
                "  3  the node's daemon is not running",
                "  4  no such resource",
                "  6  busy: try again"})
final class AdjustCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES", description = "The resource.")
    String resource;

    @Option(names = "--log-quota", required = true, paramLabel = "SIZE", description = "Most bytes of log segments "
            + "kept for members that lag (0: the default, a quarter of the device); past it the primary goes Ahead.")
    String logQuota;

    @Override
    public Integer call() throws Exception {
        long bytes = "0".equals(logQuota) ? 0 : Sizes.parse(logQuota);
        return Daemon.act(home, "/resources/" + resource + "/adjust?log-quota=" + bytes);
    }
}
