package io.tern.log;

import java.nio.ByteBuffer;

import org.slf4j.LoggerFactory;

/** A slot of the append ring: preallocated, filled by a writer, consumed by the appender thread. */
final class AppendEvent {
    RecordOp op;
    int flags;
    long epoch;
    long offset;
    int length;
    ByteBuffer payload;
    int payloadCrc;
    AppendCallback callback;
    /** Complete only once synced (true), or as soon as written (false: the caller syncs later). */
    boolean durable;
    /** Not a record: a request to sync everything written before it. */
    boolean syncOnly;
    /** A replica append: {@code payload} is a whole encoded record with this LSN (0: a new record). */
    long replicaLsn;

    /** Tells the writer, once; a second call (after an unexpected error) does nothing. */
    void complete(long lsn, Throwable error) {
        AppendCallback cb = callback;
        payload = null;
        callback = null;
        if (cb == null) {
            return;
        }
        try {
            cb.onComplete(lsn, error);
        } catch (Throwable e) {
            // A caller's bug must not stop the appender thread that every other writer depends on.
            LoggerFactory.getLogger(AppendEvent.class).error("append callback threw for lsn {}", lsn, e);
        }
    }
}
