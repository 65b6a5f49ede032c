package io.tern.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code tern pause|resume replay RES}: stop or restart a secondary's replay (its log keeps filling). */
final class ReplayCommands {
    private ReplayCommands() {
    }

    static int act(HomeOption home, String what, String resource, boolean pause) throws Exception {
        if (!"replay".equals(what)) {
            throw new IllegalArgumentException("only 'replay' can be " + (pause ? "paused" : "resumed") + " so far, not '"
                    + what + "'");
        }
        return Daemon.act(home, "/resources/" + resource + "/" + (pause ? "pause" : "resume") + "-replay");
    }

    /** What both commands take: what to act on, and the resource. */
    private abstract static class Action implements Callable<Integer> {
        @Mixin
        HomeOption home;

        @Parameters(index = "0", paramLabel = "replay", description = "What to act on: replay.")
        String what;

        @Parameters(index = "1", paramLabel = "RES")
        String resource;

        abstract boolean pause();

        @Override
        public Integer call() throws Exception {
            return act(home, what, resource, pause());
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = "Stop replay on a secondary at a record boundary: its disk stays the primary's image at "
                    + "replayed_lsn, which the command prints (JSON), while the log keeps arriving.")
    static final class Pause extends Action {
        @Override
        boolean pause() {
            return true;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Restart a paused replay.")
    static final class Resume extends Action {
        @Override
        boolean pause() {
            return false;
        }
    }
}
