package io.tern.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tern} command line. */
@Command(name = "tern", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Asynchronous block-level replication for long-distance disaster recovery.",
        subcommands = {InitCommand.class, CreateCommand.class, JoinCommand.class, RunCommand.class, StatusCommand.class,
                ReplayCommands.Pause.class, ReplayCommands.Resume.class, VerifyCommand.class, AdjustCommand.class, RoleCommands.Primary.class,
                RoleCommands.Secondary.class, RoleCommands.Invalidate.class, EventsCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return new CommandLine(new Main())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                            || e instanceof java.io.IOException) {
                        cmd.getErr().println("tern " + cmd.getCommandName() + ": " + e.getMessage());
                        return 1;
                    }
                    throw e;
                })
                .execute(args);
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
