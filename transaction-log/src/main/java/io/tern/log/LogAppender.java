package io.tern.log;

import com.lmax.disruptor.EventHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log's single appender: encodes each event into the segment store, and at the end of every
 * batch that holds a durable append or a sync request, syncs once and only then completes the
 * batch (group commit). A batch of appends that need not be durable yet completes without a
 * sync; they become durable with the next sync. A failed append or sync fails the log for good:
 * the batch and every later append complete with {@link LogFailedException}; the sync is never
 * retried. Three refusals leave the log healthy and fail only that append: a replica record out of
 * order ({@link OutOfOrderException}), one received again that differs from the stored one
 * ({@link ReplicaConflictException}), and a record the file system has no room for
 * ({@link LogFullException}: the tail segment is full and no new one can be prepared); neither
 * takes an LSN.
 *
 * <p>Thread contract: {@link #onEvent} runs on the Disruptor's processor thread only, which
 * owns the {@link SegmentLog}'s appending side. {@link #failure()} may be read from any thread.
 */
final class LogAppender implements EventHandler<AppendEvent> {
    private static final Logger log = LoggerFactory.getLogger(LogAppender.class);
    private final SegmentLog store;
    private final SyncObserver observer;
    private final CommitListener commits;
    private final String name;
    private final AppendEvent[] pending;
    private final long[] pendingLsn;
    private final Runnable durableAdvanced;
    private int count;
    private boolean syncNeeded;
    /** Records appended since the last sync: what the next one makes durable. */
    private int sinceSync;
    private volatile LogFailedException failure;
    private volatile long processed = -1;

    LogAppender(SegmentLog store, SyncObserver observer, CommitListener commits, String name, int ringSize,
                Runnable durableAdvanced) {
        this.durableAdvanced = durableAdvanced;
        this.store = store;
        this.observer = observer;
        this.commits = commits;
        this.name = name;
        this.pending = new AppendEvent[ringSize];
        this.pendingLsn = new long[ringSize];
    }

    LogFailedException failure() {
        return failure;
    }

    /** The ring sequence of the last event fully handled (completed or failed). */
    long processed() {
        return processed;
    }

    @Override
    public void onEvent(AppendEvent e, long sequence, boolean endOfBatch) {
        if (failure != null) {
            e.complete(-1, failure);
        } else {
            try {
                long lsn;
                if (e.syncOnly) {
                    lsn = -1;
                } else {
                    try {
                        if (e.replicaLsn > 0) {
                            lsn = store.appendEncoded(e.payload, e.replicaLsn);
                        } else {
                            lsn = store.append(e.op, e.flags, e.epoch, e.offset, e.length, e.payload, e.payloadCrc);
                        }
                        sinceSync++;
                    } catch (OutOfOrderException | ReplicaConflictException | LogFullException refused) {
                        e.complete(-1, refused); // this append fails, the log stays healthy
                        if (endOfBatch) {
                            syncAndComplete();
                            processed = sequence;
                        }
                        return;
                    }
                }
                if (count == pending.length) {
                    syncAndComplete(); // a batch longer than the ring: cannot happen, but never overflow
                }
                pending[count] = e;
                pendingLsn[count] = lsn;
                count++;
                syncNeeded |= e.durable || e.syncOnly;
            } catch (Throwable t) {
                fail(new LogFailedException(name + ": append after lsn " + store.lastLsn() + " failed; the log "
                        + "takes no more writes until it is reopened and recovered", t));
                e.complete(-1, failure);
            }
        }
        if (endOfBatch) {
            syncAndComplete();
            processed = sequence;
        }
    }

    private void syncAndComplete() {
        if (count == 0 || failure != null) {
            return;
        }
        long last = store.lastLsn();
        if (!syncNeeded || last == store.durableLsn()) {
            try {
                store.flushWrites(); // not durable yet, but written: the next sync covers it
            } catch (Throwable t) {
                fail(new LogFailedException(name + ": writing lsn up to " + last + " failed; the log takes no more "
                        + "writes until it is reopened and recovered", t));
                return;
            }
        } else {
            long syncNanos;
            try {
                observer.beforeSync(last);
                long start = System.nanoTime();
                store.syncDurable();
                syncNanos = System.nanoTime() - start;
            } catch (Throwable t) {
                fail(new LogFailedException(name + ": sync of lsn up to " + last + " failed; nothing after lsn "
                        + store.durableLsn() + " is known durable and the log takes no more writes", t));
                return;
            }
            try {
                observer.afterSync(last);
            } catch (Throwable t) {
                log.error("{}: sync observer threw after lsn {} was synced", name, last, t);
            }
            int records = sinceSync;
            sinceSync = 0;
            try {
                commits.committed(records, syncNanos);
            } catch (Throwable t) {
                log.error("{}: commit listener threw after lsn {} was synced", name, last, t);
            }
        }
        boolean advanced = syncNeeded;
        for (int i = 0; i < count; i++) {
            AppendEvent e = pending[i];
            pending[i] = null;
            e.complete(e.syncOnly ? store.durableLsn() : pendingLsn[i], null);
        }
        count = 0;
        syncNeeded = false;
        if (advanced) {
            try {
                durableAdvanced.run();
            } catch (Throwable t) {
                log.error("{}: a durable-position listener threw", name, t);
            }
        }
    }

    /**
     * Disruptor's last resort, should anything escape {@link #onEvent}: fail the log rather than
     * let the processor thread die with appends waiting on it forever.
     */
    final com.lmax.disruptor.ExceptionHandler<AppendEvent> exceptionHandler = new com.lmax.disruptor.ExceptionHandler<>() {
        @Override
        public void handleEventException(Throwable ex, long sequence, AppendEvent event) {
            fail(new LogFailedException(name + ": appender failed unexpectedly", ex));
            if (event != null) {
                event.complete(-1, failure);
            }
            processed = sequence;
        }

        @Override
        public void handleOnStartException(Throwable ex) {
            log.error("{}: appender failed to start", name, ex);
        }

        @Override
        public void handleOnShutdownException(Throwable ex) {
            log.error("{}: appender failed to stop", name, ex);
        }
    };

    private void fail(LogFailedException error) {
        if (failure == null) {
            failure = error;
            log.error("{}", error.getMessage(), error.getCause());
        }
        for (int i = 0; i < count; i++) {
            AppendEvent e = pending[i];
            pending[i] = null;
            e.complete(-1, failure);
        }
        count = 0;
    }
}
