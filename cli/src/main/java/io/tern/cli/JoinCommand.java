package io.tern.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import io.tern.node.HostPort;
import io.tern.node.NodeHome;
import io.tern.node.Resource;
import io.tern.node.ResourceConfig;
import io.tern.node.Sizes;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.protocol.Messages;
import io.tern.replication.sync.Probe;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "join", mixinStandardHelpOptions = true,
        description = {"Make this node a secondary of a resource: ask its primary for the size, then run a full "
                + "sync (only chunks that differ are sent) and follow the primary's log.",
                "The disk is Inconsistent until the sync's replay completes; 'tern status' shows progress."})
final class JoinCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES", description = "Resource name, as on the primary.")
    String name;

    @Option(names = "--peer", required = true, paramLabel = "H:P", description = "The primary's replication address.")
    String peer;

    @Option(names = "--data", paramLabel = "PATH",
            description = "Backing file (default: inside the node home). An existing file of the right size is kept "
                    + "and only the chunks that differ are copied.")
    Path data;

    @Option(names = "--sparse", description = "Create a new backing file sparse: blocks are allocated as they are "
            + "replayed, so a full disk stalls the replay later (it retries). By default every block is allocated now "
            + "(fallocate). An existing --data file is kept as it is.")
    boolean sparse;

    @Option(names = "--sync-rate", paramLabel = "SIZE", description = "Most bytes per second the full sync copies, "
            + "e.g. 50M (default: no limit). Replication of new writes is not limited by it.")
    String syncRate;

    @Option(names = "--fetch-rate", paramLabel = "SIZE", description = "Most bytes per second read from the primary's "
            + "log stream, e.g. 10M (default: no limit). The secondary lags instead; the primary never waits.")
    String fetchRate;

    @Option(names = "--compress", description = "Ask the primary to compress what it sends (zstd, per frame).")
    boolean compress;

    @Option(names = "--sync-digest", paramLabel = "ALG", defaultValue = "xxh128",
            description = "What the full sync compares 4 KiB blocks by: xxh128 (XXH3, 128 bits; the default) or "
                    + "sha256 (cryptographic, several times slower).")
    String syncDigest;

    @Option(names = "--log-segment", defaultValue = "64M", paramLabel = "SIZE",
            description = "Size of each segment file of this node's copy of the log (default 64M, at least 1M).")
    String logSegment;

    @Option(names = "--log-quota", paramLabel = "SIZE", description = "Most bytes of log segments kept for members "
            + "that lag, e.g. 10G (default: a quarter of the device, at least 4 segments, at most 64G). Past it the "
            + "primary goes Ahead: it keeps taking writes, notes the blocks a lagging member misses and resyncs only "
            + "those when it returns.")
    String logQuota;

    @Override
    public Integer call() throws Exception {
        NodeHome h = NodeHome.open(home.resolve());
        NodeHome.checkName("resource", name);
        HostPort primary = HostPort.parse(peer);
        BlockDigest digest = BlockDigest.parse(syncDigest);
        Messages.Welcome w = Probe.ask(h.cluster(), name, h.node(), primary.toAddress(), Duration.ofSeconds(10));
        ResourceConfig c = Resource.join(h, name, w.size(), w.epoch(), primary, data, new ResourceConfig.Pull(
                syncRate == null ? 0 : Sizes.parse(syncRate), fetchRate == null ? 0 : Sizes.parse(fetchRate), compress,
                digest), io.tern.node.LogSegment.parse(logSegment),
                logQuota == null ? 0 : Sizes.parse(logQuota), !sparse);
        System.out.println("resource " + c.name() + " joined: " + c.size() + " bytes in " + c.data() + " from primary "
                + primary + "; " + Daemon.open(h, c.name()));
        return 0;
    }
}
