package io.tern.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.tern.node.NodeHome;
import picocli.CommandLine.Option;

/** {@code --home DIR}, defaulting to {@code $TERN_HOME}. */
final class HomeOption {
    @Option(names = "--home", paramLabel = "DIR", description = "The node's home folder (default: $TERN_HOME).")
    Path home;

    /** The folder named by {@code --home} or {@code TERN_HOME}; a usage error when neither is given. */
    Path resolve() {
        if (home != null) {
            return home;
        }
        String env = System.getenv("TERN_HOME");
        if (env == null || env.isBlank()) {
            throw new CommandFailure(ExitCodes.USAGE, "no node home given: pass --home DIR or set TERN_HOME");
        }
        return Path.of(env);
    }

    /** The node home that {@code tern init} made there; refused, saying how to make one, if there is none. */
    NodeHome open() throws IOException {
        Path dir = resolve();
        if (!Files.isDirectory(dir)) {
            throw new CommandFailure(ExitCodes.FAILED, "no node home at " + dir + " (no such folder): run 'tern init --home "
                    + dir + " --node NAME' first");
        }
        return NodeHome.open(dir);
    }
}
