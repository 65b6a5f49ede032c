package io.tern.log;

/**
 * An append refused because the log's file system is down to its reserve
 * ({@link LogConfig#reserve}). Nothing was written, the log stays healthy, and appends succeed
 * again once space is freed (by retention, or by the operator).
 */
public final class LogFullException extends LogException {
    public LogFullException(String message) {
        super(message);
    }
}
