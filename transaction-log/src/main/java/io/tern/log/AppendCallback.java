package io.tern.log;

/**
 * Told once when an append is durable ({@code error == null}, {@code lsn} assigned) or has failed
 * ({@code lsn == -1}). Runs on the log's appender thread, after the sync: it must not block.
 */
@FunctionalInterface
public interface AppendCallback {
    void onComplete(long lsn, Throwable error);
}
