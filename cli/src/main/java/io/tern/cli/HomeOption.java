package io.tern.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** {@code --home DIR}, defaulting to {@code $TERN_HOME}. */
final class HomeOption {
    @Option(names = "--home", paramLabel = "DIR", description = "The node's home folder (default: $TERN_HOME).")
    Path home;

    Path resolve() {
        if (home != null) {
            return home;
        }
        String env = System.getenv("TERN_HOME");
        if (env == null || env.isBlank()) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "no node home: pass --home DIR or set TERN_HOME");
        }
        return Path.of(env);
    }
}
