package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static io.tern.log.LogTestSupport.payloadMatches;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TransactionLogTest {
    @TempDir
    Path dir;

    private LogConfig config() {
        return new LogConfig().directory(dir.resolve("log")).name("t");
    }

    @Test
    void appendsFromManyThreadsGetDenseLsnsAndReadBackAfterReopen() throws Exception {
        int writers = 16;
        int perWriter = 200;
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().lastLsn()).isZero();
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            List<CompletableFuture<Long>> acks = new ArrayList<>();
            List<java.util.concurrent.Future<List<CompletableFuture<Long>>>> perThread = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                perThread.add(pool.submit(() -> {
                    List<CompletableFuture<Long>> mine = new ArrayList<>();
                    for (int i = 0; i < perWriter; i++) {
                        long offset = (writer * 100_000L + i) * 4096;
                        mine.add(log.appendWrite(1, offset, payloadFor(offset, 4096), 0));
                    }
                    return mine;
                }));
            }
            for (var f : perThread) {
                acks.addAll(f.get(30, TimeUnit.SECONDS));
            }
            pool.shutdown();
            long max = 0;
            for (CompletableFuture<Long> a : acks) {
                max = Math.max(max, a.get(30, TimeUnit.SECONDS));
            }
            assertThat(max).isEqualTo((long) writers * perWriter);
            assertThat(log.durableLsn()).isEqualTo(max);
        }
        try (TransactionLog log = TransactionLog.open(config())) {
            RecoveryReport r = log.recovery();
            assertThat(r.cut()).isFalse();
            assertThat(r.lastLsn()).isEqualTo((long) writers * perWriter);
            assertThat(r.verified()).isEqualTo((long) writers * perWriter);
            try (LogReader reader = log.reader(1)) {
                LogRecord rec = new LogRecord();
                for (long lsn = 1; lsn <= writers * perWriter; lsn++) {
                    assertThat(reader.next(rec)).as("record %d", lsn).isTrue();
                    assertThat(rec.lsn()).isEqualTo(lsn);
                    assertThat(rec.op()).isEqualTo(RecordOp.WRITE);
                    assertThat(payloadMatches(rec)).isTrue();
                }
                assertThat(reader.next(rec)).isFalse();
            }
            assertThat(log.appendZero(1, 0, 1 << 20, 0).get(10, TimeUnit.SECONDS)).isEqualTo(writers * perWriter + 1L);
        }
    }

    @Test
    void readerFollowsTheLiveTailAndStartsAnywhere() throws Exception {
        try (TransactionLog log = TransactionLog.open(config());
             LogReader tail = log.reader(1)) {
            LogRecord rec = new LogRecord();
            assertThat(tail.next(rec)).isFalse();
            for (int i = 0; i < 50; i++) {
                long lsn = log.appendWrite(1, i * 512L, payloadFor(i * 512L, 512), 0).get(10, TimeUnit.SECONDS);
                assertThat(tail.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
                assertThat(tail.next(rec)).isFalse();
            }
            try (LogReader mid = log.reader(37)) {
                assertThat(mid.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(37);
            }
            try (LogReader atEnd = log.reader(51)) {
                assertThat(atEnd.next(rec)).isFalse();
                log.appendEpoch(2, new byte[RecordCodec.EPOCH_DIGEST_LENGTH]).get(10, TimeUnit.SECONDS);
                assertThat(atEnd.next(rec)).isTrue();
                assertThat(rec.op()).isEqualTo(RecordOp.EPOCH);
                assertThat(rec.epoch()).isEqualTo(2);
            }
            assertThatThrownBy(() -> log.reader(53)).isInstanceOf(LogException.class);
        }
    }

    /** Records of up to 2 MiB from several writers roll segments and read back whole. */
    @Test
    void largeAppendsCrossChunksAndReadBackWhole() throws Exception {
        java.util.Random random = new java.util.Random(io.tern.testing.Seeds.seed("largeAppends"));
        int[] sizes = new int[300];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = 512 * (1 + random.nextInt(4096)); // up to 2 MiB
        }
        try (TransactionLog log = TransactionLog.open(config().segmentSize(16L << 20))) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int first = t;
                done.add(pool.submit(() -> {
                    for (int i = first; i < sizes.length; i += 4) {
                        long offset = i * (4L << 20);
                        log.appendWrite(1, offset, payloadFor(offset, sizes[i]), 0).join();
                    }
                    return null;
                }));
            }
            for (var f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
        }
        try (TransactionLog log = TransactionLog.open(config());
             LogReader reader = log.reader(1)) {
            assertThat(log.recovery().cut()).isFalse();
            LogRecord rec = new LogRecord();
            int n = 0;
            while (reader.next(rec)) {
                assertThat(payloadMatches(rec)).as("payload of lsn %d", rec.lsn()).isTrue();
                n++;
            }
            assertThat(n).isEqualTo(sizes.length);
        }
    }

    @Test
    void appendsThatNeedNotBeDurableCompleteWithoutASyncAndBecomeDurableOnSync() throws Exception {
        java.util.concurrent.atomic.AtomicInteger syncs = new java.util.concurrent.atomic.AtomicInteger();
        SyncObserver counter = new SyncObserver() {
            @Override
            public void afterSync(long lastLsn) {
                syncs.incrementAndGet();
            }
        };
        try (TransactionLog log = TransactionLog.open(config().syncObserver(counter));
             LogReader reader = log.reader(1)) {
            List<CompletableFuture<Long>> written = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                CompletableFuture<Long> f = new CompletableFuture<>();
                log.append(RecordOp.WRITE, 0, 1, i * 512L, 512, payloadFor(i * 512L, 512), false, (lsn, e) -> f.complete(lsn));
                written.add(f);
            }
            for (int i = 0; i < 20; i++) {
                assertThat(written.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i + 1L);
            }
            assertThat(syncs.get()).isZero();
            assertThat(log.durableLsn()).isZero();
            LogRecord rec = new LogRecord();
            assertThat(reader.next(rec)).as("not durable yet: not readable").isFalse();

            assertThat(log.sync().get(10, TimeUnit.SECONDS)).isEqualTo(20);
            assertThat(syncs.get()).isEqualTo(1);
            for (long lsn = 1; lsn <= 20; lsn++) {
                assertThat(reader.next(rec)).isTrue();
                assertThat(rec.lsn()).isEqualTo(lsn);
            }
            assertThat(log.appendWrite(1, 0, payloadFor(0, 512), RecordCodec.FLAG_FUA).get(10, TimeUnit.SECONDS)).isEqualTo(21);
            assertThat(syncs.get()).isEqualTo(2);
            // Nothing new to sync: answered without a sync.
            assertThat(log.sync().get(10, TimeUnit.SECONDS)).isEqualTo(21);
            assertThat(syncs.get()).isEqualTo(2);
        }
    }

    @Test
    void badRequestsFailAtOnceAndChangeNothing() throws Exception {
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThatThrownBy(() -> log.appendWrite(1, -4096, ByteBuffer.allocate(4096), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
            assertThatThrownBy(() -> log.appendWrite(1, 0, ByteBuffer.allocate(RecordCodec.MAX_PAYLOAD + 1), 0))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> log.appendWrite(1, 0, ByteBuffer.allocate(16), 0x80))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("flags");
            assertThatThrownBy(() -> log.appendEpoch(1, new byte[3])).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> log.appendWrite(1, 0, ByteBuffer.allocate(log.config().maxPayload() + 1), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max");
            assertThat(log.durableLsn()).isZero();
            assertThat(log.appendWrite(1, 0, payloadFor(0, 16), RecordCodec.FLAG_FUA).get(10, TimeUnit.SECONDS)).isEqualTo(1);
        }
    }

    /** A record must fit in one segment: the largest allowed record fits, and reads back. */
    @Test
    void theLargestRecordASmallBlockAllowsIsWrittenWhole() throws Exception {
        try (TransactionLog log = TransactionLog.open(config().segmentSize(1L << 20))) {
            int max = log.config().maxPayload();
            assertThat(max).isLessThan(1 << 20);
            long lsn = log.appendWrite(1, 0, payloadFor(0, max), 0).get(10, TimeUnit.SECONDS);
            assertThatThrownBy(() -> log.appendWrite(1, 0, payloadFor(0, max + 1), 0))
                    .isInstanceOf(IllegalArgumentException.class);
            try (LogReader r = log.reader(lsn)) {
                LogRecord rec = new LogRecord();
                assertThat(r.next(rec)).isTrue();
                assertThat(payloadMatches(rec)).isTrue();
            }
        }
    }

    @Test
    void aFailedSyncFailsThePendingAndEveryLaterAppend() throws Exception {
        SyncObserver failing = new SyncObserver() {
            @Override
            public void beforeSync(long lastLsn) throws IOException {
                if (lastLsn >= 3) {
                    throw new IOException("injected EIO");
                }
            }
        };
        try (TransactionLog log = TransactionLog.open(config().syncObserver(failing))) {
            log.appendWrite(1, 0, payloadFor(0, 512), 0).get(10, TimeUnit.SECONDS);
            log.appendWrite(1, 512, payloadFor(512, 512), 0).get(10, TimeUnit.SECONDS);
            CompletableFuture<Long> third = log.appendWrite(1, 1024, payloadFor(1024, 512), 0);
            assertThatThrownBy(() -> third.get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(LogFailedException.class)
                    .rootCause().hasMessage("injected EIO");
            assertThat(log.failure()).isNotNull();
            assertThatThrownBy(() -> log.appendWrite(1, 0, payloadFor(0, 512), 0)).isInstanceOf(LogFailedException.class);
            assertThat(log.durableLsn()).isEqualTo(2);
        }
        // Reopening recovers what the disk holds; the failed record may or may not be there, but never a gap.
        try (TransactionLog log = TransactionLog.open(config())) {
            assertThat(log.recovery().lastLsn()).isBetween(2L, 3L);
            assertThat(log.appendWrite(1, 0, payloadFor(0, 512), 0).get(10, TimeUnit.SECONDS))
                    .isEqualTo(log.recovery().lastLsn() + 1);
        }
    }

    @Test
    void closeCompletesAcceptedAppendsAndIsIdempotent() throws Exception {
        TransactionLog log = TransactionLog.open(config());
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            acks.add(log.appendWrite(1, i * 4096L, payloadFor(i * 4096L, 4096), 0));
        }
        log.close();
        log.close();
        for (CompletableFuture<Long> a : acks) {
            assertThat(a).succeedsWithin(Duration.ofSeconds(5));
        }
        assertThatThrownBy(() -> log.appendWrite(1, 0, payloadFor(0, 16), 0)).isInstanceOf(LogClosedException.class);
    }
}
