package io.tern.log;

/**
 * A record in the live part of the log failed verification (checksum, bounds or LSN order). The
 * bad record's bytes are never handed out.
 */
public final class LogCorruptedException extends LogException {
    private final long expectedLsn;

    public LogCorruptedException(String message, long expectedLsn) {
        super(message);
        this.expectedLsn = expectedLsn;
    }

    /** The LSN the reader expected at the bad record. */
    public long expectedLsn() {
        return expectedLsn;
    }
}
