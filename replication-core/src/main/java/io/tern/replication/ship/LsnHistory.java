package io.tern.replication.ship;

/**
 * When the primary's log became durable up to which LSN, and how many bytes it held then:
 * samples taken every 100 ms or so, kept in a ring (4096 samples, about 7 minutes). From them, a
 * member's lag in seconds (how long ago the first record it has not replayed became durable) and
 * in bytes (how much the log holds past its position, interpolated between samples). Lags older
 * than the ring are reported as at least the ring's age.
 *
 * <p>Thread contract: synchronized; any thread may sample and ask.
 */
public final class LsnHistory {
    private static final int CAPACITY = 4096;

    /** A member's lag: records, bytes and seconds behind the primary's durable end. */
    public record Lag(long records, long bytes, double seconds) {
    }

    private final long[] lsn = new long[CAPACITY];
    private final long[] bytes = new long[CAPACITY];
    private final long[] nanos = new long[CAPACITY];
    private int count;
    private int next;

    /** Records that the log is durable up to {@code durableLsn} holding {@code durableBytes}, at {@code now}. */
    public synchronized void sample(long durableLsn, long durableBytes, long now) {
        if (count > 0 && lsn[index(count - 1)] == durableLsn) {
            return; // nothing new: keep the time it first got there
        }
        lsn[next] = durableLsn;
        bytes[next] = durableBytes;
        nanos[next] = now;
        next = (next + 1) % CAPACITY;
        count = Math.min(count + 1, CAPACITY);
    }

    /** The lag of a member that replayed up to {@code replayed} while the log is at {@code durable} holding {@code bytesNow}. */
    public synchronized Lag lag(long replayed, long durable, long bytesNow, long now) {
        if (replayed >= durable || count == 0) {
            return new Lag(Math.max(0, durable - replayed), 0, 0);
        }
        // The first sample past the member's position: the record after it was durable by then.
        int first = -1;
        for (int i = count - 1; i >= 0; i--) {
            if (lsn[index(i)] > replayed) {
                first = i;
            } else {
                break;
            }
        }
        if (first < 0) {
            // Every record it lacks became durable after the last sample: at most one sampling
            // interval ago. Its share of the bytes written since, in proportion to its records.
            int last = index(count - 1);
            long newRecords = Math.max(1, durable - lsn[last]);
            long newBytes = Math.max(0, bytesNow - bytes[last]);
            return new Lag(durable - replayed, newBytes * Math.min(newRecords, durable - replayed) / newRecords, 0);
        }
        int at = index(first);
        double seconds = (now - nanos[at]) / 1e9;
        long bytesAtReplayed;
        if (first == 0) {
            bytesAtReplayed = Math.max(0, bytes[at] - (bytes[at] / Math.max(1, lsn[at])) * (lsn[at] - replayed));
        } else {
            int before = index(first - 1);
            double f = (double) (replayed - lsn[before]) / (lsn[at] - lsn[before]);
            bytesAtReplayed = bytes[before] + (long) (f * (bytes[at] - bytes[before]));
        }
        return new Lag(durable - replayed, Math.max(0, bytesNow - bytesAtReplayed), Math.max(0, seconds));
    }

    private int index(int i) {
        return (next - count + i + CAPACITY) % CAPACITY;
    }
}
