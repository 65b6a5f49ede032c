package io.tern.log;

import java.io.IOException;

/**
 * A typed seam around the log's sync, called on the appender thread. Production uses
 * {@link #NONE}; tests hold a sync back (to prove no append completes before it) or throw from
 * {@link #beforeSync} (to prove a failed sync is fatal).
 */
public interface SyncObserver {
    SyncObserver NONE = new SyncObserver() {
    };

    /** Before the sync that will make every record up to {@code lastLsn} durable. Throwing fails the log. */
    default void beforeSync(long lastLsn) throws IOException {
    }

    /** After that sync returned and before any append it covers is completed. */
    default void afterSync(long lastLsn) {
    }
}
