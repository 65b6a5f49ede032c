package io.tern.cli;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tern verify RES [--repair]}: online verify of a secondary against its primary. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Compare this secondary's disk with its primary's, block by block (digests), while both stay "
                + "online: replay pauses for the run (the disk holds the primary's image at one LSN), the log keeps "
                + "arriving, and blocks written since that LSN are not counted. Prints the ranges that differ (JSON).",
                "Exit code 0 when the run finished (differences or not: see differing_bytes), 1 when it could not run.",
                "Example: tern verify r0 --repair --home /var/lib/tern"})
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", paramLabel = "RES")
    String resource;

    @Option(names = "--repair", description = "Rewrite the blocks that differ with the primary's (only those).")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        return Daemon.act(home, "/resources/" + resource + "/verify" + (repair ? "?repair" : ""));
    }
}
