package io.tern.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.tern.block.logged.Durability;
import io.tern.node.LogSegment;
import io.tern.node.NodeHome;
import io.tern.node.Resource;
import io.tern.node.ResourceConfig;
import io.tern.node.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "create", mixinStandardHelpOptions = true,
        description = {"Create a resource (a replicated block device) with this node as its primary.",
                "A running daemon serves it at once over NBD; otherwise the node serves it from its next start."},
        footer = {"", "Examples:",
                "  tern create r0 --size 10G --home /var/lib/tern/a",
                "  tern create r1 --size 512M --data /srv/r1.img --home /var/lib/tern/a",
                "", "Exit codes:",
                "  0  created",
                "  1  refused: no node home, the resource exists, no room for it",
                "  2  usage: e.g. a bad size (--size 12Q) or name"})
final class CreateCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES", description = "Resource name (also its NBD export name).")
    String name;

    @Option(names = "--size", required = true, paramLabel = "SIZE", description = "Device size, a multiple of 512: "
            + "e.g. 10G, 512M, 1048576.")
    String size;

    @Option(names = "--data", paramLabel = "PATH", description = "Backing file (default: inside the node home).")
    Path data;

    @Option(names = "--durability", defaultValue = "sync", paramLabel = "sync|flush",
            description = "sync: reply to a write once it is durable (default); flush: once it is logged, "
                    + "durable at the next FLUSH, FUA or sync interval.")
    String durability;

    @Option(names = "--sparse", description = "Leave the backing file sparse (thin): blocks are allocated as they "
            + "are written, so a full file system is met later, by writes, which then fail until there is room again "
            + "(see docs/node.md). By default every block is allocated now (fallocate).")
    boolean sparse;

    /** Preallocation is the default now; kept so that older scripts still run. */
    @Option(names = "--preallocate", hidden = true)
    boolean preallocate;

    @Option(names = "--log-segment", defaultValue = "64M", paramLabel = "SIZE",
            description = "Size of each log segment file (default 64M, at least 1M). The log deletes whole segments, "
                    + "so it holds at least one segment of writes.")
    String logSegment;

    @Option(names = "--log-quota", paramLabel = "SIZE", description = "Most bytes of log segments kept for members "
            + "that lag, e.g. 10G (default: a quarter of the device, at least 4 segments, at most 64G). Past it the "
            + "primary goes Ahead: it keeps taking writes, notes the blocks a lagging member misses and resyncs only "
            + "those when it returns.")
    String logQuota;

    @Override
    public Integer call() throws Exception {
        NodeHome h = home.open();
        Durability mode;
        try {
            mode = Durability.valueOf(durability.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--durability must be sync or flush, not '" + durability + "'");
        }
        if (sparse && preallocate) {
            throw new IllegalArgumentException("--sparse and --preallocate contradict each other");
        }
        ResourceConfig c = Resource.create(h, name, Sizes.parse(size), data, !sparse, mode,
                LogSegment.parse(logSegment), logQuota == null ? 0 : Sizes.parse(logQuota));
        System.out.println("resource " + c.name() + " created: " + c.size() + " bytes in " + c.data()
                + "; this node is its primary; " + Daemon.open(h, c.name()));
        return ExitCodes.OK;
    }
}
