package io.tern.node;

import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;

/**
 * How long a resource's log segments span ({@code tern create --log-segment}). Chronicle rolls
 * segments by the clock and retention deletes whole segments, so a log holds at least the
 * writes of its current segment: shorter segments bound the log's disk use more tightly, longer
 * ones cost fewer files.
 */
public enum LogSegment {
    /** One second: for tests (a file every second). */
    SECOND("1s", TestRollCycles.TEST_SECONDLY),
    FIVE_MINUTES("5m", RollCycles.FIVE_MINUTELY),
    TEN_MINUTES("10m", RollCycles.TEN_MINUTELY),
    TWENTY_MINUTES("20m", RollCycles.TWENTY_MINUTELY),
    HALF_HOUR("30m", RollCycles.HALF_HOURLY),
    HOUR("1h", RollCycles.FAST_HOURLY),
    DAY("1d", RollCycles.FAST_DAILY);

    public static final LogSegment DEFAULT = FIVE_MINUTES;

    private final String label;
    private final RollCycle rollCycle;

    LogSegment(String label, RollCycle rollCycle) {
        this.label = label;
        this.rollCycle = rollCycle;
    }

    public String label() {
        return label;
    }

    public RollCycle rollCycle() {
        return rollCycle;
    }

    public static LogSegment parse(String label) {
        for (LogSegment s : values()) {
            if (s.label.equals(label)) {
                return s;
            }
        }
        throw new IllegalArgumentException("log segment '" + label + "' must be one of 5m, 10m, 20m, 30m, 1h, 1d (or 1s for tests)");
    }
}
