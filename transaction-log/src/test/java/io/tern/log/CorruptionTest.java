package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static io.tern.log.LogTestSupport.payloadMatches;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Damage found by recovery: a torn last batch is cut (zeroed) and appending continues after it;
 * damage to a record that was acknowledged refuses the open, names the LSN and changes nothing;
 * a bad record is never handed out.
 */
class CorruptionTest {
    private static final int RECORDS = 40;
    private static final int SIZE = 4096;

    @TempDir
    Path dir;

    private LogConfig config() {
        return new LogConfig().directory(dir).name("corrupt").segmentSize(1L << 20);
    }

    /** Appends {@code count} records, each synced (acknowledged) before the next. */
    private void writeRecords(int count) throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            long base = log.durableLsn();
            for (int i = 1; i <= count; i++) {
                long offset = (base + i) * SIZE;
                log.appendWrite(1, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Appends {@code synced} acknowledged records, then {@code batch} more in one batch (one sync). */
    private void writeWithLastBatch(int synced, int batch) throws Exception {
        writeRecords(synced);
        try (TransactionLog log = TransactionLog.open(config())) {
            CompletableFuture<?>[] last = new CompletableFuture<?>[batch];
            for (int i = 0; i < batch; i++) {
                long offset = (synced + 1 + i) * (long) SIZE;
                CompletableFuture<Long> f = new CompletableFuture<>();
                log.append(RecordOp.WRITE, 0, 1, offset, SIZE, payloadFor(offset, SIZE), false,
                        (lsn, error) -> f.complete(lsn));
                last[i] = f;
            }
            CompletableFuture.allOf(last).get(10, TimeUnit.SECONDS);
            log.sync().get(10, TimeUnit.SECONDS);
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

    private String digestOfFolder() throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                md.update(p.getFileName().toString().getBytes());
                md.update(Files.readAllBytes(p));
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @ParameterizedTest(name = "flip byte {0} of record 25")
    @ValueSource(ints = {0, 7, 17, 25, 33, 41, 46, 53, RecordCodec.HEADER_LENGTH, RecordCodec.HEADER_LENGTH + 2000,
            RecordCodec.HEADER_LENGTH + SIZE - 1})
    void damageToAnAcknowledgedRecordRefusesTheOpenAndChangesNothing(int delta) throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 25), delta);
        String before = digestOfFolder();

        assertThatThrownBy(() -> TransactionLog.open(config())).isInstanceOf(LogCorruptedException.class)
                .hasMessageContaining("record lsn 25 ")
                .hasMessageContaining("acknowledged data is corrupt")
                .hasMessageContaining("tern invalidate")
                .satisfies(e -> assertThat(((LogCorruptedException) e).expectedLsn()).isEqualTo(25));
        assertThat(digestOfFolder()).as("no record after the damaged one was dropped").isEqualTo(before);
        // And again: nothing was cut the first time.
        assertThatThrownBy(() -> TransactionLog.open(config())).isInstanceOf(LogCorruptedException.class);
    }

    /**
     * A torn last batch: its first record never reached the disk, later ones of the same batch
     * did (write-back order is not write order). Nothing in the batch was acknowledged, so the
     * batch is cut and zeroed — and writing the same LSNs again never brings the old records
     * back, even when the new records land exactly where the old ones were.
     */
    @Test
    void aTornLastBatchIsCutAndNeverComesBack() throws Exception {
        writeWithLastBatch(30, 10); // 31..40 in one batch, committed 30
        RecordLocator.zero(RecordLocator.find(dir, 31), 0, RecordCodec.HEADER_LENGTH);
        try (TransactionLog log = TransactionLog.open(config())) {
            RecoveryReport r = log.recovery();
            assertThat(r.cut()).as("%s", r).isTrue();
            assertThat(r.lastLsn()).isEqualTo(30);
            assertThat(r.cutRecords()).isEqualTo(9);
            assertThat(r.cutBytes()).isGreaterThanOrEqualTo(9L * SIZE);
            assertThat(readAll(log)).isEqualTo(30);
            // Same sizes, so lsn 31..35 land exactly where the old 31..35 were.
            for (int lsn = 31; lsn <= 35; lsn++) {
                long offset = lsn * 7_000_000L;
                assertThat(log.appendWrite(2, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(lsn);
            }
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.recovery().lastLsn()).as("old lsn 36..40 are gone for good").isEqualTo(35);
            assertThat(readAll(log)).isEqualTo(35);
        }
    }

    @Test
    void aTornLastRecordIsCutAtTheLastGoodRecord() throws Exception {
        writeRecords(RECORDS);
        // The last page of the last record never reached the disk.
        RecordLocator.zero(RecordLocator.find(dir, RECORDS), RecordCodec.HEADER_LENGTH + SIZE - 1000, 1000);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS - 1);
            assertThat(log.recovery().cutRecords()).isEqualTo(1);
            assertThat(readAll(log)).isEqualTo(RECORDS - 1);
            assertThat(log.appendWrite(1, 0, payloadFor(0, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(RECORDS);
            assertThat(readAll(log)).isEqualTo(RECORDS);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isFalse();
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
    void aDamagedPayloadBelowTheRecoveryPointIsCaughtByReaders() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 10), RecordCodec.HEADER_LENGTH + 1);
        // Recovery verifies headers below the caller's checkpoint (lsn 20), payloads from it on ...
        try (TransactionLog log = TransactionLog.open(config().recoverFromLsn(20))) {
            assertThat(log.recovery().cut()).isFalse();
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS);
            // ... and a reader that goes there never returns the bad payload.
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
    void aDamagedHeaderBelowTheRecoveryPointRefusesTheOpen() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, 10), 20);
        assertThatThrownBy(() -> TransactionLog.open(config().recoverFromLsn(20)))
                .isInstanceOf(LogCorruptedException.class).hasMessageContaining("record lsn 10 ")
                .hasMessageContaining("below the checkpoint");
    }

    @Test
    void aReaderAtTheTailAfterACutFollowsNewAppends() throws Exception {
        writeRecords(RECORDS);
        RecordLocator.flipByte(RecordLocator.find(dir, RECORDS), RecordCodec.HEADER_LENGTH + 9);
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().lastLsn()).isEqualTo(RECORDS - 1); // cut, nothing appended before closing
        }
        try (TransactionLog log = TransactionLog.open(config());
             LogReader tail = log.reader(RECORDS)) {
            assertThat(log.recovery().cut()).isFalse();
            LogRecord rec = new LogRecord();
            assertThat(tail.next(rec)).isFalse();
            for (int lsn = RECORDS; lsn <= RECORDS + 300; lsn++) { // crosses into a second segment
                long offset = lsn * 7_000_000L;
                assertThat(log.appendWrite(2, offset, payloadFor(offset, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(lsn);
                assertThat(tail.next(rec)).as("the tail sees lsn %d", lsn).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
                assertThat(payloadMatches(rec)).isTrue();
            }
            assertThat(readAll(log)).isEqualTo(RECORDS + 300);
        }
    }

    @Test
    void aSegmentWhoseHeaderNeverReachedTheDiskIsDropped() throws Exception {
        writeRecords(253); // two segments: 1..252 and 253
        List<Path> segments;
        try (Stream<Path> s = Files.list(dir)) {
            segments = s.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
        }
        assertThat(segments).hasSize(2);
        // The second segment's header and its record are lost: its name survived, its data did not.
        try (FileChannel ch = FileChannel.open(segments.get(1), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(64 << 10), 0);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().cut()).isTrue();
            assertThat(log.recovery().lastLsn()).isEqualTo(252);
            assertThat(Files.exists(segments.get(1))).isFalse();
            assertThat(readAll(log)).isEqualTo(252);
            assertThat(log.appendWrite(2, 0, payloadFor(0, SIZE), 0).get(10, TimeUnit.SECONDS)).isEqualTo(253);
        }
    }

    @Test
    void aFolderWithALogInTheOldFormatIsRefused() throws Exception {
        Files.write(dir.resolve("20261201-1010.cq4"), new byte[4096]);
        assertThatThrownBy(() -> TransactionLog.open(config())).isInstanceOf(LogException.class)
                .hasMessageContaining("old Chronicle Queue format");
    }
}
