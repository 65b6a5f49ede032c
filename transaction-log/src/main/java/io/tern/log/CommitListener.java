package io.tern.log;

/**
 * Told of every group commit, on the appender thread, after the sync returned and before the
 * appends it covers complete: how many records the sync made durable and how long it took. The
 * seam for metrics (records per fsync, fsync latency); production passes an implementation that
 * records into meters, tests count. It must be cheap and must not block: the batch's acks wait
 * for it. A listener that throws is logged; the log stays healthy.
 */
@FunctionalInterface
public interface CommitListener {
    CommitListener NONE = (records, syncNanos) -> {
    };

    /**
     * @param records   records appended since the previous sync, all durable now (on a replica
     *                  log, also records received again and skipped as identical)
     * @param syncNanos how long the sync took ({@link System#nanoTime()} difference)
     */
    void committed(int records, long syncNanos);
}
