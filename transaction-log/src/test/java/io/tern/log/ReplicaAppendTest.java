package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A secondary stores its primary's records as they are: same bytes, same LSNs, in order. */
class ReplicaAppendTest {
    @TempDir
    Path dir;

    private static ByteBuffer copy(ByteBuffer b) {
        ByteBuffer c = ByteBuffer.allocate(b.remaining());
        c.put(b.duplicate()).flip();
        return c;
    }

    private static CompletableFuture<Long> replicate(TransactionLog log, ByteBuffer record) {
        CompletableFuture<Long> f = new CompletableFuture<>();
        log.appendReplica(record, true, (lsn, e) -> {
            if (e == null) {
                f.complete(lsn);
            } else {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    @Test
    void aSecondaryLogHoldsTheSameRecordsWithTheSameLsns() throws Exception {
        try (TransactionLog primary = TransactionLog.open(new LogConfig().directory(dir.resolve("p")).name("p"));
             TransactionLog secondary = TransactionLog.open(new LogConfig().directory(dir.resolve("s")).name("s"))) {
            for (int i = 0; i < 200; i++) {
                switch (i % 10) {
                    case 3 -> primary.appendZero(1, i * 4096L, 8192, 0);
                    case 7 -> primary.appendEpoch(2, new byte[RecordCodec.EPOCH_DIGEST_LENGTH]);
                    default -> primary.appendWrite(i < 100 ? 1 : 2, i * 4096L, payloadFor(i * 4096L, 512 + i), 0);
                }
            }
            primary.sync().get(10, TimeUnit.SECONDS);
            List<CompletableFuture<Long>> acks = new ArrayList<>();
            LogRecord rec = new LogRecord();
            try (LogReader r = primary.reader(1)) {
                while (r.next(rec)) {
                    acks.add(replicate(secondary, copy(rec.encoded())));
                }
            }
            assertThat(acks).hasSize(200);
            for (int i = 0; i < acks.size(); i++) {
                assertThat(acks.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i + 1L);
            }
            assertThat(secondary.durableLsn()).isEqualTo(200);
            LogRecord a = new LogRecord();
            LogRecord b = new LogRecord();
            try (LogReader ra = primary.reader(1); LogReader rb = secondary.reader(1)) {
                for (int i = 0; i < 200; i++) {
                    assertThat(ra.next(a)).isTrue();
                    assertThat(rb.next(b)).isTrue();
                    assertThat(b.encoded()).isEqualTo(a.encoded());
                }
            }
        }
        // And it survives a reopen like any log.
        try (TransactionLog secondary = TransactionLog.open(new LogConfig().directory(dir.resolve("s")).name("s"))) {
            assertThat(secondary.recovery().lastLsn()).isEqualTo(200);
            assertThat(secondary.recovery().cut()).isFalse();
        }
    }

    @Test
    void gapsRepeatsAndCorruptRecordsAreRefusedAndTheLogStaysHealthy() throws Exception {
        try (TransactionLog primary = TransactionLog.open(new LogConfig().directory(dir.resolve("p")).name("p"));
             TransactionLog secondary = TransactionLog.open(new LogConfig().directory(dir.resolve("s")).name("s")
                     .firstLsn(3))) {
            for (int i = 0; i < 6; i++) {
                primary.appendWrite(1, i * 512L, payloadFor(i * 512L, 512), 0).get(10, TimeUnit.SECONDS);
            }
            List<ByteBuffer> records = new ArrayList<>();
            LogRecord rec = new LogRecord();
            try (LogReader r = primary.reader(1)) {
                while (r.next(rec)) {
                    records.add(copy(rec.encoded()));
                }
            }
            // The secondary joined at lsn 3: lsn 1 lies below its log (nothing to compare, skipped), lsn 5 is a gap.
            assertThat(replicate(secondary, records.get(0)).get(10, TimeUnit.SECONDS)).isEqualTo(1L);
            assertThat(replicate(secondary, records.get(4))).failsWithin(10, TimeUnit.SECONDS)
                    .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .withCauseInstanceOf(OutOfOrderException.class);
            ByteBuffer corrupt = copy(records.get(2));
            corrupt.put(RecordCodec.HEADER_LENGTH + 10, (byte) (corrupt.get(RecordCodec.HEADER_LENGTH + 10) ^ 1));
            assertThatThrownBy(() -> replicate(secondary, corrupt)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("checksum");
            assertThat(secondary.failure()).isNull();
            assertThat(secondary.durableLsn()).isEqualTo(2);
            for (int i = 2; i < 6; i++) {
                assertThat(replicate(secondary, records.get(i)).get(10, TimeUnit.SECONDS)).isEqualTo(i + 1L);
            }
            assertThat(secondary.firstLsn()).isEqualTo(3);
            // Received again after a reconnect: identical, skipped; differing, refused; the log stays healthy.
            assertThat(replicate(secondary, copy(records.get(3))).get(10, TimeUnit.SECONDS)).isEqualTo(4L);
            ByteBuffer other = ByteBuffer.allocate(RecordCodec.HEADER_LENGTH + 512);
            ByteBuffer payload = payloadFor(99_999, 512);
            RecordCodec.encodeHeader(other, RecordOp.WRITE, 0, 1, 4, 3, 3 * 512L, 512, 512, RecordCodec.payloadCrc(payload));
            other.put(payload).flip();
            assertThat(replicate(secondary, other)).failsWithin(10, TimeUnit.SECONDS)
                    .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .withCauseInstanceOf(ReplicaConflictException.class);
            assertThat(secondary.failure()).isNull();
            assertThat(secondary.durableLsn()).isEqualTo(6);
        }
    }
}
