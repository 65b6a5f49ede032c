package io.tern.log;

/** An append or read on a log that has been closed. */
public final class LogClosedException extends LogException {
    public LogClosedException(String message) {
        super(message);
    }
}
