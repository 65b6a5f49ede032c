package io.tern.cli;

import picocli.CommandLine;

/**
 * The exit codes of every {@code tern} command, defined once. A script or a cluster agent (the
 * OCF agent) branches on them; the one line on stderr says why and what to do. {@code tern --help}
 * shows the table ({@link Main}'s footer, which must match these); each command's {@code --help}
 * lists the ones it can return.
 */
final class ExitCodes {
    /** Done. */
    static final int OK = 0;
    /** Refused or failed; the message says why and what to do. */
    static final int FAILED = 1;
    /** The command line is wrong: unknown command or option, a missing or bad argument. Picocli's own. */
    static final int USAGE = CommandLine.ExitCode.USAGE;
    /** The node's daemon is not running (or does not answer) and the command needs it. */
    static final int NOT_RUNNING = 3;
    /** The node has no such resource. */
    static final int NO_SUCH_RESOURCE = 4;
    /** The resource's primary cannot be reached (a handover, an invalidate, a join). */
    static final int PRIMARY_UNREACHABLE = 5;
    /** The daemon is busy (its admin endpoint is full) or the action was interrupted: try again. */
    static final int BUSY = 6;

    private ExitCodes() {
    }
}
