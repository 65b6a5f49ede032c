package io.tern.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tern verify RES [--repair]}: online verify of a secondary against its primary. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Compare this secondary's disk with its primary's, both online; print what differs.",
                "Block by block (digests): replay pauses for the run (the disk holds the primary's image at one LSN), "
                        + "the log keeps arriving, and blocks written since that LSN are not counted. Prints the ranges "
                        + "that differ (JSON)."},
        footer = {"", "Examples:",
                "  tern verify r0 --home /var/lib/tern/b",
                "  tern verify r0 --repair --home /var/lib/tern/b | jq .differing_bytes",
                "", "Exit codes:",
                "  0  the run finished, differences or not (see differing_bytes)",
                "  1  it could not run: e.g. not an UpToDate secondary",
                "  2  usage",
                "  3  the node's daemon is not running",
                "  4  no such resource",
                "  6  busy or interrupted: try again"})
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES", description = "The resource.")
    String resource;

    @Option(names = "--repair", description = "Rewrite the blocks that differ with the primary's (only those).")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        return Daemon.act(home, "/resources/" + resource + "/verify" + (repair ? "?repair" : ""));
    }
}
