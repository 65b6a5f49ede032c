package io.tern.cli;

/**
 * An expected failure of a command: {@link Main} prints {@code tern COMMAND: message} as one line
 * on stderr and exits with {@link #exitCode()} (one of {@link ExitCodes}). The message says what
 * went wrong and what the operator can do.
 */
final class CommandFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int exitCode;

    CommandFailure(int exitCode, String message) {
        super(message, null, false, false);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
