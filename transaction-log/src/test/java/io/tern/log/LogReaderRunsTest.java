package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs of record bytes for sendfile ({@link LogReader#nextRun}) end at the durable mark, also
 * when the tail rolled more than once since the last sync: a segment sealed after that sync holds
 * nothing durable although it is sealed.
 */
class LogReaderRunsTest {
    private static final long SEGMENT = LogConfig.MIN_SEGMENT_SIZE;
    /** One record of this payload fills a segment: every append rolls. */
    private static final int PAYLOAD = 600 << 10;

    @TempDir
    Path dir;

    @Test
    void runsStopAtTheDurableMarkWhenSegmentsWereSealedSinceTheLastSync() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir).segmentSize(SEGMENT))) {
            long durable = log.appendWrite(1, 0, payloadFor(0, PAYLOAD), 0).get(10, TimeUnit.SECONDS);
            // Three more, each in a segment of its own, written but not synced: two of those segments are sealed.
            List<CompletableFuture<Long>> written = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                CompletableFuture<Long> f = new CompletableFuture<>();
                log.append(RecordOp.WRITE, 0, 1, (long) i * PAYLOAD, PAYLOAD, payloadFor((long) i * PAYLOAD, PAYLOAD),
                        false, (lsn, error) -> {
                            if (error == null) {
                                f.complete(lsn);
                            } else {
                                f.completeExceptionally(error);
                            }
                        });
                written.add(f);
            }
            for (CompletableFuture<Long> f : written) {
                f.get(10, TimeUnit.SECONDS);
            }
            assertThat(log.lastLsn()).isEqualTo(durable + 3);
            assertThat(log.durableLsn()).isEqualTo(durable);

            LogReader reader = log.reader(1);
            long shipped = drain(reader);
            assertThat(shipped).as("bytes in runs before the sync: the one durable record").isEqualTo(
                    RecordCodec.HEADER_LENGTH + PAYLOAD);
            assertThat(reader.runsCaughtUpTo()).isEqualTo(durable);

            long synced = log.sync().get(10, TimeUnit.SECONDS);
            assertThat(synced).isEqualTo(durable + 3);
            shipped += drain(reader);
            assertThat(shipped).as("bytes in runs after the sync: all four records").isEqualTo(
                    4L * (RecordCodec.HEADER_LENGTH + PAYLOAD));
            assertThat(reader.runsCaughtUpTo()).isEqualTo(durable + 3);
        }
    }

    private static long drain(LogReader reader) {
        long bytes = 0;
        for (LogReader.Run run = reader.nextRun(1 << 20); run != null; run = reader.nextRun(1 << 20)) {
            bytes += run.length();
        }
        return bytes;
    }
}
