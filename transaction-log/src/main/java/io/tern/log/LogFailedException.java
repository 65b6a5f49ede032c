package io.tern.log;

/**
 * The log hit an append or sync error and no longer takes writes: durability of anything after
 * the last completed sync is unknown, so the log refuses to pretend. Every pending and later
 * append fails with this. The operator must fix the disk and reopen the log, whose recovery then
 * establishes what is durable.
 */
public final class LogFailedException extends LogException {
    public LogFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
