package io.tern.cli;

import java.util.concurrent.Callable;

import io.tern.node.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tern adjust RES --log-quota SIZE}: change a resource's settings on a running node. */
@Command(name = "adjust", mixinStandardHelpOptions = true,
        description = {"Change a resource's settings on the running node; they are stored and apply at once.",
                "Example: tern adjust r0 --log-quota 20G --home /var/lib/tern"})
final class AdjustCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES")
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
