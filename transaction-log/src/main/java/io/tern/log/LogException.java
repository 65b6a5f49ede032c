package io.tern.log;

/** Base of the log's typed errors. Unchecked so it can travel through futures and callbacks. */
public class LogException extends RuntimeException {
    public LogException(String message) {
        super(message);
    }

    public LogException(String message, Throwable cause) {
        super(message, cause);
    }
}
