package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static io.tern.log.LogTestSupport.payloadMatches;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;


import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Damaged records are found by recovery, cut, never handed out, and appending continues after them. */
class CorruptionTest {
    private static final int RECORDS = 40;
    private static final int SIZE = 4096;

    @TempDir
    Path dir;

    // Small blocks keep the segment files small for RecordLocator's scans.
    private LogConfig config() {
        return new LogConfig().directory(dir).name("corrupt").blockSize(4L << 20);
    }

    private void writeRecords(int count) throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            long base = log.durableLsn();
            for (int i = 1; i <= count; i++) {
                long offset = (base + i) * SIZE;
                log.appendWrite(1, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Reads the whole log from its first LSN; every record must be continuous and intact. */
    private static long readAll(TransactionLog log) {
        LogRecord rec = new LogRecord();
        long expected = log.firstLsn();
        try (LogReader r = log.reader(expected)) {
            while (r.next(rec)) {
                assertThat(rec.lsn()).isEqualTo(expected++);
                if (rec.op() == RecordOp.WRITE) {
                    assertThat(payloadMatches(rec)).as("payload of lsn %d", rec.lsn()).isTrue();
                }
            }
        }
        return expected - 1;
    }

    @ParameterizedTest(name = "flip byte {0} of record 25")
    @ValueSource(ints = {0, 7, 17, 25, 33, 41, 46, RecordCodec.HEADER_LENGTH, RecordCodec.HEADER_LENGTH + 2000,
            RecordCodec.HEADER_LENGTH + SIZE - 1})
    void aFlippedByteAnywhereInARecordCutsTheLogThere(int delta) throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 25), delta);

        try (TransactionLog log = TransactionLog.open(config())) {
            RecoveryReport r = log.recovery();
            assertThat(r.cut()).isTrue();
            assertThat(r.lastLsn()).isEqualTo(24);
            assertThat(r.cutExcerpts()).isEqualTo(RECORDS - 24);
            assertThat(r.cutBytes()).isGreaterThanOrEqualTo((long) (RECORDS - 24) * SIZE);
            assertThat(r.reason()).isNotBlank();
            assertThat(readAll(log)).isEqualTo(24);
            // Appending continues after the last good record, and readers skip the dead excerpts.
            for (int i = 25; i <= 30; i++) {
                long offset = i * 1_000_000L;
                assertThat(log.appendWrite(2, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(i);
            }
            assertThat(readAll(log)).isEqualTo(30);
            try (LogReader from26 = log.reader(26)) {
                LogRecord rec = new LogRecord();
                assertThat(from26.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(26);
                assertThat(rec.epoch()).isEqualTo(2);
            }
        }
        // The cut is durable: a second open finds the resumed history, cuts nothing more.
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.recovery().lastLsn()).isEqualTo(30);
            assertThat(readAll(log)).isEqualTo(30);
        }
        // And a second cut after the first one works the same way.
        RecordLocator.flipByte(RecordLocator.find(dir, 28), RecordCodec.HEADER_LENGTH + 5);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().lastLsn()).isEqualTo(27);
            assertThat(log.appendZero(3, 0, SIZE, 0).get(10, TimeUnit.SECONDS)).isEqualTo(28);
            assertThat(readAll(log)).isEqualTo(28);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(readAll(log)).isEqualTo(28);
        }
    }

    @Test
    void aTornTailIsCutAtTheLastGoodRecord() throws Exception {
        writeRecords(RECORDS);
        // The last page of the last record never reached the disk.
        RecordLocator.zero(RecordLocator.find(dir, RECORDS), RecordCodec.HEADER_LENGTH + SIZE - 1000, 1000);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS - 1);
            assertThat(log.recovery().cutExcerpts()).isEqualTo(1);
            assertThat(readAll(log)).isEqualTo(RECORDS - 1);
            assertThat(log.appendWrite(1, 0, payloadFor(0, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(RECORDS);
            assertThat(readAll(log)).isEqualTo(RECORDS);
        }
    }

    @Test
    void aTruncatedSegmentFileIsCutAtTheLastGoodRecord() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.Location last = RecordLocator.find(dir, RECORDS);
        try (FileChannel ch = FileChannel.open(last.file(), StandardOpenOption.WRITE)) {
            ch.truncate(last.position() + RecordCodec.HEADER_LENGTH + 100);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS - 1);
            assertThat(readAll(log)).isEqualTo(RECORDS - 1);
            assertThat(log.appendWrite(1, 0, payloadFor(0, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(RECORDS);
            assertThat(readAll(log)).isEqualTo(RECORDS);
        }
    }

    @Test
    void corruptionBelowTheRecoveryPointIsCaughtByReaders() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 10), RecordCodec.HEADER_LENGTH + 1);
        // Recovery starts at the caller's checkpoint (lsn 20) and does not look below it ...
        try (TransactionLog log = TransactionLog.open(config().recoverFromLsn(20))) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS);
            // ... but a reader that goes there never returns the bad payload.
            try (LogReader r = log.reader(1)) {
                LogRecord rec = new LogRecord();
                for (int i = 1; i <= 9; i++) {
                    assertThat(r.next(rec)).isTrue();
                }
                assertThatThrownBy(() -> r.next(rec)).isInstanceOf(LogCorruptedException.class)
                        .hasMessageContaining("lsn 10");
            }
        }
    }

    @Test
    void aCutResumedOnlyAfterAReopenIsFollowedByReaders() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 30), RecordCodec.HEADER_LENGTH + 9);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().lastLsn()).isEqualTo(29); // cut, but nothing appended before closing
        }
        try (TransactionLog log = TransactionLog.open(config());
             LogReader tail = log.reader(30)) {
            assertThat(log.recovery().cut()).isFalse();
            LogRecord rec = new LogRecord();
            assertThat(tail.next(rec)).isFalse();
            for (int lsn = 30; lsn <= 33; lsn++) {
                long offset = lsn * 7_000_000L;
                assertThat(log.appendWrite(2, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(lsn);
                assertThat(tail.next(rec)).as("the tail sees lsn %d", lsn).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
                assertThat(payloadMatches(rec)).isTrue();
            }
            assertThat(readAll(log)).isEqualTo(33);
        }
    }

    @Test
    void aNewCutBeforeAnOldOneReplacesIt() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 30), RecordCodec.HEADER_LENGTH + 9);
        try (TransactionLog log = TransactionLog.open(config())) {
            for (int lsn = 30; lsn <= 35; lsn++) {
                log.appendZero(2, lsn * 4096L, SIZE, 0).get(10, TimeUnit.SECONDS);
            }
        }
        // Damage below the first cut: the new cut's dead zone holds the old cut and its resumed records.
        RecordLocator.flipByte(RecordLocator.find(dir, 10), 20);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            assertThat(log.recovery().lastLsn()).isEqualTo(9);
            for (int lsn = 10; lsn <= 14; lsn++) {
                assertThat(log.appendZero(3, lsn * 4096L, SIZE, 0).get(10, TimeUnit.SECONDS)).isEqualTo(lsn);
            }
            assertThat(readAll(log)).isEqualTo(14);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.recovery().lastLsn()).isEqualTo(14);
            assertThat(readAll(log)).isEqualTo(14);
        }
    }

    @Test
    void aDamagedCutListRefusesToOpen() throws Exception {
        writeRecords(10);
        RecordLocator.flipByte(RecordLocator.find(dir, 5), RecordCodec.HEADER_LENGTH);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
        }
        try (FileChannel ch = FileChannel.open(dir.resolve(CutList.FILE_NAME), StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), 14);
        }
        assertThatThrownBy(() -> TransactionLog.open(config())).isInstanceOf(LogCorruptedException.class)
                .hasMessageContaining("checksum");
    }

}
