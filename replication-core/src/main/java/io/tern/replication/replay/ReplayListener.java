package io.tern.replication.replay;

/**
 * Told of every record the {@link Replayer} applied, on the replay thread, after the device took
 * it and before the next one is read: the seam for replay metrics (records and bytes per second).
 * It must be cheap, must not block and must not throw (that would stop the replay).
 */
@FunctionalInterface
public interface ReplayListener {
    ReplayListener NONE = (lsn, bytes) -> {
    };

    /** Record {@code lsn} is applied: {@code bytes} it wrote or zeroed (0 for an EPOCH record). */
    void applied(long lsn, long bytes);
}
