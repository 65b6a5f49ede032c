package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** No append may complete before the sync that covers it has returned. */
class AckAfterSyncTest {
    @TempDir
    Path dir;

    @Test
    void noAppendCompletesWhileItsSyncIsHeldBack() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger syncsEntered = new AtomicInteger();
        AtomicLong syncedUpTo = new AtomicLong(0);
        SyncObserver gate = new SyncObserver() {
            @Override
            public void beforeSync(long lastLsn) throws java.io.IOException {
                syncsEntered.incrementAndGet();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
            }

            @Override
            public void afterSync(long lastLsn) {
                syncedUpTo.set(lastLsn);
            }
        };
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir).syncObserver(gate))) {
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                int writer = w;
                Thread t = new Thread(() -> {
                    for (int i = 0; i < 32; i++) {
                        long offset = (writer * 1000L + i) * 4096;
                        CompletableFuture<Long> f = new CompletableFuture<>();
                        log.append(RecordOp.WRITE, 0, 1, offset, 4096, payloadFor(offset, 4096), (lsn, error) -> {
                            // The proof: at the moment an append completes, a sync covering it has returned.
                            if (error != null || lsn > syncedUpTo.get()) {
                                violations.add("lsn " + lsn + " completed with sync only up to " + syncedUpTo.get());
                            }
                            f.complete(lsn);
                        });
                        synchronized (acks) {
                            acks.add(f);
                        }
                    }
                });
                writers.add(t);
                t.start();
            }
            for (Thread t : writers) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> syncsEntered.get() >= 1);
            assertThat(acks).hasSize(256);
            // The appender is held inside its first sync: everything published is written or queued, nothing acked.
            assertThat(acks).noneMatch(CompletableFuture::isDone);
            assertThat(log.durableLsn()).isZero();

            release.countDown();
            for (CompletableFuture<Long> f : acks) {
                assertThat(f).succeedsWithin(Duration.ofSeconds(10));
            }
            assertThat(violations).isEmpty();
            assertThat(acks.stream().map(CompletableFuture::join).distinct().count()).isEqualTo(256);
            assertThat(log.durableLsn()).isEqualTo(256);
            // Group commit: fewer syncs than appends.
            assertThat(syncsEntered.get()).isLessThan(256);
        }
    }
}
