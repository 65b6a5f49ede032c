package io.tern.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code tern pause|resume fetch|replay|sync RES}: stop or restart one of a secondary's
 * activities; the switch holds across restarts until resumed.
 */
final class ReplayCommands {
    private ReplayCommands() {
    }

    static int act(HomeOption home, String what, String resource, boolean pause) throws Exception {
        if (!java.util.Set.of("fetch", "replay", "sync").contains(what)) {
            throw new CommandFailure(ExitCodes.USAGE, "what to " + (pause ? "pause" : "resume")
                    + " is fetch, replay or sync, not '" + what + "'");
        }
        return Daemon.act(home, "/resources/" + resource + "/" + (pause ? "pause" : "resume") + "-" + what);
    }

    /** What both commands take: what to act on, and the resource. */
    private abstract static class Action implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Parameters(index = "0", paramLabel = "fetch|replay|sync", description = "What to act on: fetch (pulling the "
                + "log from the primary), replay (applying it to this node's disk) or sync (a running full sync).")
        String what;

        @Parameters(index = "1", paramLabel = "RES", description = "The resource.")
        String resource;

        abstract boolean pause();

        @Override
        public Integer call() throws Exception {
            return act(home, what, resource, pause());
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = {"Pause a secondary's fetch, replay or full sync until resumed, restarts included.",
                    "replay stops at a record boundary: the disk stays the primary's image at replayed_lsn, which the "
                            + "command prints (JSON), while the log keeps arriving. fetch stops pulling the log (the "
                            + "primary keeps it up to its quota, then goes Ahead). sync stops a full sync where it is."},
            footer = {"", "Examples:",
                    "  tern pause replay r0 --home /var/lib/tern/b   # a stable image to back up",
                    "  tern pause fetch r0 --home /var/lib/tern/b",
                    "", "Exit codes:",
                    "  0  paused; prints the resource's status (JSON)",
                    "  1  refused: e.g. on a primary",
                    "  2  usage: e.g. not fetch, replay or sync",
                    "  3  the node's daemon is not running",
                    "  4  no such resource",
                    "  6  busy: try again"})
    static final class Pause extends Action {
        @Override
        boolean pause() {
            return true;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Resume what tern pause stopped: fetch, replay or a full sync of a secondary.",
            footer = {"", "Examples:",
                    "  tern resume replay r0 --home /var/lib/tern/b",
                    "  tern resume sync r0 --home /var/lib/tern/b",
                    "", "Exit codes:",
                    "  0  resumed; prints the resource's status (JSON)",
                    "  1  refused: e.g. on a primary",
                    "  2  usage: e.g. not fetch, replay or sync",
                    "  3  the node's daemon is not running",
                    "  4  no such resource",
                    "  6  busy: try again"})
    static final class Resume extends Action {
        @Override
        boolean pause() {
            return false;
        }
    }
}
