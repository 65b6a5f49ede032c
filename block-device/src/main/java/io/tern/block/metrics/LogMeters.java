package io.tern.block.metrics;

import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.tern.log.CommitListener;

/**
 * A log's group commits as meters: {@code tern_log_sync_seconds} (how long each fsync took, a
 * histogram) and {@code tern_log_commit_records} (records each fsync made durable, a histogram;
 * its count's rate is syncs per second).
 *
 * <p>A resource opens its log before the node lists its meters, and the node drops and lists a
 * resource's meters again when its role changes; so the meters are bound late, by
 * {@link #bind}, and commits before that are not recorded. Thread contract: {@link #committed}
 * runs on the log's appender thread; {@link #bind} on any.
 */
public final class LogMeters implements CommitListener {
    private volatile Timer sync;
    private volatile DistributionSummary records;

    /** Registers the meters with {@code tags} (at least {@code resource}); later commits are recorded there. */
    public void bind(MeterRegistry registry, Tags tags) {
        records = DistributionSummary.builder("tern.log.commit.records").tags(tags)
                .description("records made durable by one log sync (group commit batch size)")
                .serviceLevelObjectives(Buckets.BATCH).register(registry);
        sync = Timer.builder("tern.log.sync").tags(tags)
                .description("duration of one log sync (fdatasync of the segments written)")
                .serviceLevelObjectives(Buckets.LATENCY).register(registry);
    }

    @Override
    public void committed(int records, long syncNanos) {
        Timer t = sync;
        DistributionSummary r = this.records;
        if (t != null && r != null) {
            t.record(syncNanos, TimeUnit.NANOSECONDS);
            r.record(records);
        }
    }
}
