package io.tern.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tern primary RES --force} and {@code tern secondary RES}: switch this node's role for a resource. */
final class RoleCommands {
    private RoleCommands() {
    }

    @Command(name = "primary", mixinStandardHelpOptions = true,
            description = {"Make this node the resource's primary: a handover, or a failover with --force.",
                    "Without --force, a handover: the primary stops taking writes, this node replays to its last "
                            + "write and takes over in a new epoch, and the old primary follows it; refused when the "
                            + "primary cannot be reached. With --force (a forced failover, for when the old primary is "
                            + "lost): from what this node has received; if the old primary returns with writes this "
                            + "node never received, both report a split brain."},
            footer = {"", "Examples:",
                    "  tern primary r0 --home /var/lib/tern/b           # planned handover",
                    "  tern primary r0 --force --home /var/lib/tern/b   # the old primary is lost",
                    "", "Exit codes:",
                    "  0  primary now (or already)",
                    "  1  refused: e.g. the disk is Inconsistent or Failed, the primary refused",
                    "  2  usage",
                    "  3  the node's daemon is not running",
                    "  4  no such resource",
                    "  5  the primary cannot be reached for a handover (--force goes without it)",
                    "  6  busy or interrupted: try again"})
    static final class Primary implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Parameters(index = "0", paramLabel = "RES", description = "The resource.")
        String resource;

        @Option(names = "--force", description = "Forced failover: do not wait for the old primary.")
        boolean force;

        @Option(names = "--allow-inconsistent", description = "With --force: promote even while this node's disk "
                + "is Inconsistent (a sync or replay incomplete), serving a half-copied image.")
        boolean allowInconsistent;

        @Override
        public Integer call() throws Exception {
            if (allowInconsistent && !force) {
                throw new CommandFailure(ExitCodes.USAGE, "--allow-inconsistent goes with --force: add --force for a "
                        + "forced failover, or drop it for a handover");
            }
            StringBuilder q = new StringBuilder();
            if (force) {
                q.append("force");
            }
            if (allowInconsistent) {
                q.append("&allow-inconsistent");
            }
            return Daemon.act(home, "/resources/" + resource + "/primary" + (q.length() > 0 ? "?" + q : ""));
        }
    }

    @Command(name = "secondary", mixinStandardHelpOptions = true,
            description = {"Make this primary step down to a secondary: its export turns read-only.",
                    "It stops taking writes and follows the primary at --peer (or the one the mesh knows, or whoever "
                            + "becomes primary) from its own log's end. If their histories forked, both report a "
                            + "split brain and nothing moves."},
            footer = {"", "Examples:",
                    "  tern secondary r0 --home /var/lib/tern/a",
                    "  tern secondary r0 --peer 10.0.0.2:7800 --home /var/lib/tern/a",
                    "", "Exit codes:",
                    "  0  secondary now",
                    "  1  refused: e.g. the resource failed to open",
                    "  2  usage",
                    "  3  the node's daemon is not running",
                    "  4  no such resource",
                    "  6  busy or interrupted: try again"})
    static final class Secondary implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Parameters(index = "0", paramLabel = "RES", description = "The resource.")
        String resource;

        @Option(names = "--peer", paramLabel = "HOST:PORT",
                description = "The replication address of the primary to follow (default: the primary the mesh "
                        + "knows, or whoever becomes primary).")
        String peer;

        @Override
        public Integer call() throws Exception {
            return Daemon.act(home, "/resources/" + resource + "/secondary"
                    + (peer == null ? "" : "?peer=" + URLEncoder.encode(peer, StandardCharsets.UTF_8)));
        }
    }

    @Command(name = "invalidate", mixinStandardHelpOptions = true,
            description = {"Discard this node's side of a split brain and resync from the primary.",
                    "Run it on the node whose side goes: it drops its divergent tail and becomes a secondary of the "
                            + "primary it forked from; only the chunks touched past the fork are resynced (then that "
                            + "primary's log replays from the fork), or a fast full sync when a log no longer reaches "
                            + "back to the fork. Prints what it resyncs and why."},
            footer = {"", "Example:",
                    "  tern invalidate r0 --home /var/lib/tern/b",
                    "", "Exit codes:",
                    "  0  resyncing from the primary it forked from",
                    "  1  refused: e.g. it has not forked from the primary",
                    "  2  usage",
                    "  3  the node's daemon is not running",
                    "  4  no such resource",
                    "  5  no primary can be reached to resync from",
                    "  6  busy or interrupted: try again"})
    static final class Invalidate implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Parameters(index = "0", paramLabel = "RES", description = "The resource.")
        String resource;

        @Override
        public Integer call() throws Exception {
            return Daemon.act(home, "/resources/" + resource + "/invalidate");
        }
    }
}
