package io.tern.log;

/**
 * A record received again (after a reconnect) whose bytes differ from the record this log holds
 * with the same LSN: the two histories diverge. Nothing is written and the log stays healthy;
 * the caller must not go on replicating from that peer until the divergence is resolved.
 */
public final class ReplicaConflictException extends LogException {
    private final long lsn;

    public ReplicaConflictException(String message, long lsn) {
        super(message);
        this.lsn = lsn;
    }

    /** The LSN at which the histories differ. */
    public long lsn() {
        return lsn;
    }
}
