package io.tern.block.fault;

import io.tern.block.BlockError;

/**
 * What a {@link FaultInjectingDevice} does wrong, changed at any time by the test that owns it:
 * fail reads, writes (including zeroes and trims) or flushes with an error, after letting a
 * number of them through, and delay every operation. Thread-safe.
 */
public final class FaultPlan {
    private volatile BlockError readError;
    private volatile BlockError writeError;
    private volatile BlockError flushError;
    private volatile long writesBeforeFailing;
    private volatile long delayMillis;

    /** Fails every read from now on with {@code error} ({@code null}: reads succeed again). */
    public FaultPlan failReads(BlockError error) {
        this.readError = error;
        return this;
    }

    /** Fails writes with {@code error} once {@code after} more writes have succeeded. */
    public FaultPlan failWrites(BlockError error, long after) {
        this.writesBeforeFailing = after;
        this.writeError = error;
        return this;
    }

    public FaultPlan failFlushes(BlockError error) {
        this.flushError = error;
        return this;
    }

    /** Delays every operation by {@code millis} (0: no delay). */
    public FaultPlan delay(long millis) {
        this.delayMillis = millis;
        return this;
    }

    BlockError readError() {
        return readError;
    }

    synchronized BlockError nextWriteError() {
        if (writeError == null) {
            return null;
        }
        if (writesBeforeFailing > 0) {
            writesBeforeFailing--;
            return null;
        }
        return writeError;
    }

    BlockError flushError() {
        return flushError;
    }

    long delayMillis() {
        return delayMillis;
    }
}
