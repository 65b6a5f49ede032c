package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetentionTest {
    @TempDir
    Path dir;

    /** Ten records of this payload fill a 1 MiB segment; the eleventh rolls to the next. */
    private static final int PAYLOAD = 100 << 10;

    private LogConfig config() {
        return new LogConfig().directory(dir).name("ret").segmentSize(1L << 20);
    }

    private long segments() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".seg")).count();
        }
    }

    private static long append(TransactionLog log, long offset) throws Exception {
        return log.appendWrite(1, offset, payloadFor(offset, PAYLOAD), 0).get(10, TimeUnit.SECONDS);
    }

    /**
     * Retired segments are recycled as spares and written again: the stale records they still
     * hold carry older LSNs and are never read as live ones, by readers or by recovery.
     */
    @Test
    void recycledSegmentsNeverShowTheirStaleRecords() throws Exception {
        try (TransactionLog log = TransactionLog.open(config().recycleSegments(true))) {
            for (int i = 1; i <= 30; i++) {
                assertThat(append(log, i * 1_000_000L)).isEqualTo(i);
            }
            assertThat(log.deleteSegmentsBelow(21)).isEqualTo(2);
            // Half a segment into a recycled file, then close: its stale second half stays.
            for (int i = 31; i <= 45; i++) {
                assertThat(append(log, i * 1_000_000L)).isEqualTo(i);
            }
        }
        try (TransactionLog log = TransactionLog.open(config().recycleSegments(true))) {
            assertThat(log.recovery().cut()).as("%s", log.recovery()).isFalse();
            assertThat(log.recovery().lastLsn()).isEqualTo(45);
            assertThat(append(log, 46_000_000L)).isEqualTo(46);
            LogRecord rec = new LogRecord();
            try (LogReader r = log.reader(21)) {
                for (long lsn = 21; lsn <= 46; lsn++) {
                    assertThat(r.next(rec)).isTrue();
                    assertThat(rec.lsn()).isEqualTo(lsn);
                    assertThat(rec.offset()).isEqualTo(lsn * 1_000_000L);
                    assertThat(LogTestSupport.payloadMatches(rec)).isTrue();
                }
                assertThat(r.next(rec)).isFalse();
            }
        }
    }

    /**
     * The checkpointer may retire a segment the appender sealed but has not synced again (the
     * batch after the one that made its records durable rolled the tail): the next sync skips it
     * instead of failing the log on its closed channel. Found by PowerLossFlushModeTest, where a
     * log quota retires segments early.
     */
    @Test
    void aSegmentRetiredBetweenItsSealAndTheNextSyncDoesNotFailTheSync() throws Exception {
        LogConfig config = config();
        config.conclude();
        try (SegmentLog log = new SegmentLog(config, new SpaceGuard(dir, config.reserve()))) {
            for (long lsn = 1; lsn <= 10; lsn++) {
                ByteBuffer payload = payloadFor(lsn, PAYLOAD);
                assertThat(log.append(RecordOp.WRITE, 0, 1, lsn * PAYLOAD, PAYLOAD, payload, RecordCodec.payloadCrc(payload)))
                        .isEqualTo(lsn);
            }
            log.syncDurable(); // lsn 1-10 durable: the first segment is full
            ByteBuffer eleventh = payloadFor(11, PAYLOAD);
            assertThat(log.append(RecordOp.WRITE, 0, 1, 11L * PAYLOAD, PAYLOAD, eleventh, RecordCodec.payloadCrc(eleventh)))
                    .as("rolls: the first segment is sealed, not synced since").isEqualTo(11);
            assertThat(log.deleteSegmentsBelow(11)).as("the checkpointer retires it").isEqualTo(1);
            log.syncDurable();
            assertThat(log.durableLsn()).isEqualTo(11);
            assertThat(log.segmentStarts()).containsExactly(11L);
        }
    }

    @Test
    void deletesOnlyWholeSegmentsBelowTheSafeLsnAndReadersAboveKeepWorking() throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            // Five segments of ten records: lsn 1-10, 11-20, ..., 41-50.
            for (int i = 0; i < 50; i++) {
                append(log, i * (long) PAYLOAD);
            }
            assertThat(segments()).isEqualTo(5);
            LogReader above = log.reader(35);
            LogRecord rec = new LogRecord();
            assertThat(above.next(rec)).isTrue();
            assertThat(rec.lsn()).isEqualTo(35);

            assertThat(log.deleteSegmentsBelow(10)).as("lsn 10 is still needed").isZero();
            assertThat(log.deleteSegmentsBelow(35)).isEqualTo(3);
            assertThat(segments()).isEqualTo(2);
            assertThat(log.firstLsn()).isEqualTo(31);
            assertThatThrownBy(() -> log.reader(30)).isInstanceOf(LogException.class);

            for (long lsn = 36; lsn <= 50; lsn++) {
                assertThat(above.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
            }
            assertThat(above.next(rec)).isFalse();
            long next = append(log, 0);
            assertThat(next).isEqualTo(51);
            assertThat(above.next(rec)).isTrue();
            assertThat(rec.lsn()).isEqualTo(51);
            above.close();

            try (LogReader from31 = log.reader(31)) {
                assertThat(from31.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(31);
            }
            // lsn 51 went into a sixth segment (the fifth was full). The segment being
            // appended to is never deleted, whatever the caller says.
            assertThat(segments()).isEqualTo(3);
            assertThat(log.deleteSegmentsBelow(1000)).isEqualTo(2);
            assertThat(segments()).isEqualTo(1);
            assertThat(log.firstLsn()).isEqualTo(51);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().fromLsn()).isEqualTo(51);
            assertThat(log.recovery().lastLsn()).isEqualTo(51);
            assertThat(log.firstLsn()).isEqualTo(51);
            assertThat(log.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS)).isEqualTo(52);
        }
    }
}
