package io.tern.cli;

import java.io.IOException;
import java.nio.file.NoSuchFileException;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tern} command line. Every expected failure ends as one line on stderr,
 * {@code tern COMMAND: what went wrong: what to do}, and an exit code of {@link ExitCodes}; a
 * stack trace means a bug.
 */
@Command(name = "tern", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Asynchronous block-level replication for long-distance disaster recovery.",
        subcommands = {InitCommand.class, CreateCommand.class, JoinCommand.class, RunCommand.class, StatusCommand.class,
                ReplayCommands.Pause.class, ReplayCommands.Resume.class, VerifyCommand.class, AdjustCommand.class, RoleCommands.Primary.class,
                RoleCommands.Secondary.class, RoleCommands.Invalidate.class, EventsCommand.class, CertCommands.class, DemoCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Examples:",
                "  tern init --home /var/lib/tern/a --node a --listen 10.0.0.1:7800",
                "  tern create r0 --size 10G --home /var/lib/tern/a",
                "  tern run --home /var/lib/tern/a          # or: systemctl start tern@a",
                "  tern create --help                       # every command has --help",
                "",
                "Exit codes (every command; each command's --help lists its own):",
                "  0  done",
                "  1  refused or failed: the message says why and what to do",
                "  2  usage: unknown command or option, a missing or bad argument (--size 12Q)",
                "  3  the node's daemon is not running (or does not answer); the command needs it",
                "  4  no such resource on this node",
                "  5  the resource's primary cannot be reached (tern primary without --force,",
                "     tern invalidate, tern join)",
                "  6  busy: the daemon's admin endpoint is full, or the action was interrupted:",
                "     try again",
                "Errors are one line on stderr: 'tern COMMAND: what went wrong: what to do'."})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** The command line with its error handling: one line per error, codes of {@link ExitCodes}. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main())
                .setParameterExceptionHandler(Main::usageError)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    String name = cmd.getCommandSpec().qualifiedName();
                    if (e instanceof CommandFailure f) {
                        return error(cmd, name + ": " + f.getMessage(), f.exitCode());
                    }
                    if (e instanceof IllegalArgumentException) {
                        // thrown where the CLI reads its arguments: a name, a size, an address
                        return error(cmd, name + ": " + e.getMessage() + "; see '" + name + " --help'", ExitCodes.USAGE);
                    }
                    if (e instanceof IllegalStateException) {
                        return error(cmd, name + ": " + e.getMessage(), ExitCodes.FAILED);
                    }
                    if (e instanceof NoSuchFileException n) {
                        return error(cmd, name + ": no such file or folder: " + n.getFile(), ExitCodes.FAILED);
                    }
                    if (e instanceof IOException) {
                        return error(cmd, name + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()),
                                ExitCodes.FAILED);
                    }
                    throw e;
                });
        cl.getSubcommands().get("help").getCommandSpec().usageMessage().footer("", "Example:", "  tern help create",
                "", "Exit codes: 0 help shown, 2 usage (no such command).");
        return cl;
    }

    /** Picocli's usage errors (unknown option, missing or bad argument), as one line instead of the whole usage. */
    private static int usageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        String name = cmd.getCommandSpec().qualifiedName();
        StringBuilder line = new StringBuilder(name).append(": ");
        if (ex instanceof CommandLine.UnmatchedArgumentException u && cmd.getParent() == null
                && !u.getUnmatched().isEmpty() && !u.getUnmatched().get(0).startsWith("-")) {
            line.append("unknown command '").append(u.getUnmatched().get(0)).append("'");
        } else {
            line.append(ex.getMessage());
        }
        if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
            line.append(" (did you mean ").append(String.join(" or ", u.getSuggestions())).append("?)");
        }
        line.append("; see '").append(name).append(" --help'");
        return error(cmd, line.toString(), cmd.getCommandSpec().exitCodeOnInvalidInput());
    }

    private static int error(CommandLine cmd, String line, int code) {
        cmd.getErr().println(line.replaceAll("\\s*\\R\\s*", " ").strip());
        cmd.getErr().flush();
        return code;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"tern " + (v == null ? "(development build)" : v)};
        }
    }
}
