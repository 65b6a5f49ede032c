package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commit listener hears of every sync: how many records it made durable, and how long it took. */
class CommitListenerTest {
    @TempDir
    Path dir;

    @Test
    void everyRecordIsCountedInExactlyOneSync() throws Exception {
        AtomicLong records = new AtomicLong();
        AtomicInteger syncs = new AtomicInteger();
        AtomicLong nanos = new AtomicLong();
        CommitListener listener = (n, syncNanos) -> {
            records.addAndGet(n);
            syncs.incrementAndGet();
            nanos.addAndGet(syncNanos);
        };
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir).commitListener(listener))) {
            List<CompletableFuture<Long>> acks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                acks.add(log.appendWrite(1, i * 4096L, payloadFor(i * 4096L, 4096), 0));
            }
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            // Not durable yet: counted with the next sync.
            CompletableFuture<Long> later = new CompletableFuture<>();
            log.append(RecordOp.WRITE, 0, 1, 0, 4096, payloadFor(0, 4096), false, (lsn, e) -> later.complete(lsn));
            later.get(30, TimeUnit.SECONDS);
            log.sync().get(30, TimeUnit.SECONDS);
        }
        assertThat(records.get()).isEqualTo(201);
        assertThat(syncs.get()).isBetween(1, 201);
        assertThat(nanos.get()).isPositive();
    }
}
