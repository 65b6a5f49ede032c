package io.tern.cli;

import java.io.IOException;
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
        description = {"Make this node a secondary of a resource: copy it, then follow its primary.",
                "It asks the primary for the size, then runs a full sync (only chunks that differ are sent) and "
                        + "follows the primary's log. The disk is Inconsistent until the sync's replay completes; "
                        + "'tern status' shows progress."},
        footer = {"", "Examples:",
                "  tern join r0 --peer 10.0.0.1:7800 --home /var/lib/tern/b",
                "  tern join r0 --peer 10.0.0.1:7800 --sync-rate 50M --home /var/lib/tern/b",
                "", "Exit codes:",
                "  0  joined: the full sync runs (tern status shows it)",
                "  1  refused: no node home, the resource exists here, the primary refused",
                "  2  usage: e.g. a bad size or address",
                "  5  the primary cannot be reached at --peer"})
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
        NodeHome h = home.open();
        NodeHome.checkName("resource", name);
        HostPort primary = HostPort.parse(peer);
        BlockDigest digest = BlockDigest.parse(syncDigest);
        Messages.Welcome w = ask(h, primary);
        ResourceConfig c = Resource.join(h, name, w.size(), w.epoch(), primary, data, new ResourceConfig.Pull(
                syncRate == null ? 0 : Sizes.parse(syncRate), fetchRate == null ? 0 : Sizes.parse(fetchRate), compress,
                digest), io.tern.node.LogSegment.parse(logSegment),
                logQuota == null ? 0 : Sizes.parse(logQuota), !sparse);
        System.out.println("resource " + c.name() + " joined: " + c.size() + " bytes in " + c.data() + " from primary "
                + primary + "; " + Daemon.open(h, c.name()));
        return ExitCodes.OK;
    }

    private static io.tern.security.Transport transport(NodeHome h) throws IOException {
        try {
            return h.transport();
        } catch (IOException | IllegalStateException e) {
            throw new CommandFailure(ExitCodes.FAILED, "cannot reach peers: " + e.getMessage());
        }
    }

    /** The primary's WELCOME; a primary out of reach is told apart from one that refuses. */
    private Messages.Welcome ask(NodeHome h, HostPort primary) throws IOException, InterruptedException {
        Duration timeout = Duration.ofSeconds(10);
        try {
            return Probe.ask(h.cluster(), name, h.node(), primary.toAddress(), timeout, transport(h));
        } catch (IllegalStateException e) {
            String m = String.valueOf(e.getMessage());
            if (m.startsWith("cannot reach ") || m.contains("did not answer within") || m.endsWith("closed the connection")) {
                throw new CommandFailure(ExitCodes.PRIMARY_UNREACHABLE, "the primary cannot be reached at " + primary
                        + " (" + m + "): check --peer (the primary's replication address, 'listen' in its "
                        + "node.properties) and that its daemon runs");
            }
            throw e;
        }
    }
}
