package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class LsnHistoryTest {
    private static final long S = 1_000_000_000L;

    @Test
    void lagIsTheAgeOfTheFirstUnreplayedRecordAndTheBytesPastIt() {
        LsnHistory h = new LsnHistory();
        // 100 records of 1000 bytes per second.
        for (int t = 1; t <= 10; t++) {
            h.sample(100L * t, 100_000L * t, t * S);
        }
        h.sample(1000, 100_000L * 10, 11 * S); // no new record: keeps the earlier time
        LsnHistory.Lag caughtUp = h.lag(1000, 1000, 1_000_000, 12 * S);
        assertThat(caughtUp).isEqualTo(new LsnHistory.Lag(0, 0, 0));

        // Replayed 350: record 351 was durable by t=4 (sample lsn 400); 650 records behind.
        LsnHistory.Lag lag = h.lag(350, 1000, 1_000_000, 12 * S);
        assertThat(lag.records()).isEqualTo(650);
        assertThat(lag.seconds()).isCloseTo(8.0, within(1e-9));
        assertThat(lag.bytes()).isEqualTo(650_000);
    }

    @Test
    void aLagOlderThanTheHistoryIsAtLeastItsAge() {
        LsnHistory h = new LsnHistory();
        for (int t = 1; t <= 5000; t++) {
            h.sample(10L * t, 1000L * t, t * S);
        }
        LsnHistory.Lag lag = h.lag(5, 50_000, 5_000_000, 5001 * S);
        assertThat(lag.records()).isEqualTo(49_995);
        assertThat(lag.seconds()).as("the oldest kept sample is from t=905").isCloseTo(4096.0, within(1e-9));
        assertThat(lag.bytes()).isPositive().isLessThanOrEqualTo(5_000_000);
    }

    @Test
    void recordsNewerThanTheLastSampleCountTheirShareOfTheBytesSinceIt() {
        LsnHistory h = new LsnHistory();
        h.sample(100, 100_000, S);
        // 40 records (40,000 bytes) logged since the last sample; the member lacks the last 10.
        LsnHistory.Lag lag = h.lag(130, 140, 140_000, S + S / 20);
        assertThat(lag.records()).isEqualTo(10);
        assertThat(lag.bytes()).isEqualTo(10_000);
        assertThat(lag.seconds()).isZero();
    }
}
