package io.tern.log;

/**
 * A replica append whose LSN is not the next one: the caller's mistake (a gap or a repeat in
 * what it received), not a disk failure, so the log stays healthy and only that append fails.
 */
public final class OutOfOrderException extends LogException {
    public OutOfOrderException(String message) {
        super(message);
    }
}
