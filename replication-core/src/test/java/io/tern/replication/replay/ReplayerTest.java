package io.tern.replication.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.tern.block.BlockDevice;
import io.tern.block.BlockError;
import io.tern.block.ForwardingBlockDevice;
import io.tern.block.fault.FaultInjectingDevice;
import io.tern.block.fault.FaultPlan;
import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.log.LogCorruptedException;
import io.tern.log.TransactionLog;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replayer's pause contract, and what it does when the backing store refuses a record. */
class ReplayerTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    /** Counts every write that reaches the device, and the ones made while the test holds it paused. */
    private static final class Watch extends ForwardingBlockDevice {
        final AtomicLong attempts = new AtomicLong();
        final AtomicLong whilePaused = new AtomicLong();
        volatile boolean paused;

        Watch(BlockDevice inner) {
            super(inner);
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            if (paused) {
                whilePaused.incrementAndGet();
            }
            attempts.incrementAndGet();
            return inner.write(offset, src, fua);
        }
    }

    private TransactionLog openLog() throws Exception {
        return TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("s").segmentSize(8L << 20));
    }

    private static byte[] block(long lsn) {
        byte[] b = new byte[BLOCK];
        new Random(lsn * 31 + 7).nextBytes(b);
        return b;
    }

    private static long offsetOf(long lsn) {
        return BLOCK * ((lsn - 1) % (SIZE / BLOCK));
    }

    /** Appends records {@code from..to}, record {@code l} writing {@link #block(long)} at {@link #offsetOf}. */
    private static void append(TransactionLog txlog, long from, long to) {
        CompletableFuture<Long> last = null;
        for (long l = from; l <= to; l++) {
            last = txlog.appendWrite(1, offsetOf(l), ByteBuffer.wrap(block(l)), 0);
        }
        assertThat(last.join()).isEqualTo(to);
    }

    @Test
    void afterPauseReturnsNoRecordIsAppliedUntilResume() throws Exception {
        Random random = new Random(Seeds.seed("ReplayerTest-pause"));
        try (TransactionLog txlog = openLog();
             Watch device = new Watch(FileBlockDevice.create(dir.resolve("s.img"), SIZE, false))) {
            append(txlog, 1, 1000);
            Replayer replayer = new Replayer("s", txlog, device, dir.resolve("checkpoint"), 1, Duration.ofMillis(50));
            AtomicBoolean stop = new AtomicBoolean();
            Thread appender = new Thread(() -> { // the log keeps ahead of the replay: it always has work
                long appended = 1000;
                while (!stop.get()) {
                    if (appended - replayer.replayedLsn() < 500) {
                        append(txlog, appended + 1, appended + 100);
                        appended += 100;
                    } else {
                        LockSupport.parkNanos(100_000);
                    }
                }
            }, "test-appender");
            try {
                appender.start();
                replayer.start();
                long moved = 0;
                for (int cycle = 0; cycle < 3000; cycle++) {
                    assertThat(replayer.pause(Duration.ofSeconds(10))).isTrue();
                    device.paused = true;
                    long at = replayer.replayedLsn();
                    long writes = device.attempts.get();
                    // Give a stray record every chance to land.
                    LockSupport.parkNanos(random.nextInt(20_000));
                    assertThat(replayer.replayedLsn()).as("cycle %d: replayed while paused", cycle).isEqualTo(at);
                    assertThat(device.attempts.get()).as("cycle %d: written while paused", cycle).isEqualTo(writes);
                    device.paused = false;
                    replayer.resume();
                    // Pause again at any point of the thread waking up, reading and applying.
                    long spin = System.nanoTime() + random.nextInt(30_000);
                    while (System.nanoTime() < spin) {
                        Thread.onSpinWait();
                    }
                    if (replayer.replayedLsn() > at) {
                        moved++;
                    }
                }
                assertThat(device.whilePaused.get()).as("writes that reached the device while paused").isZero();
                assertThat(moved).as("cycles in which the replay moved between pauses").isPositive();
                assertThat(replayer.failure()).isNull();
            } finally {
                stop.set(true);
                appender.join(30_000);
                replayer.resume();
                replayer.close();
            }
        }
    }

    @Test
    void pausedBeforeItStartsTheReplayAppliesNothingUntilResume() throws Exception {
        try (TransactionLog txlog = openLog();
             Watch device = new Watch(FileBlockDevice.create(dir.resolve("s.img"), SIZE, false))) {
            append(txlog, 1, 20);
            java.util.concurrent.atomic.AtomicLong records = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();
            Replayer replayer = new Replayer("s", txlog, device, dir.resolve("checkpoint"), 1, Duration.ofMillis(50))
                    .listener((lsn, n) -> {
                        records.incrementAndGet();
                        bytes.addAndGet(n);
                    });
            try {
                assertThat(replayer.pause(Duration.ofSeconds(10))).isTrue();
                replayer.start();
                await().atMost(Duration.ofSeconds(10)).until(replayer::paused);
                assertThat(device.attempts.get()).isZero();
                assertThat(records.get()).as("the listener hears of applied records only").isZero();
                replayer.resume();
                await().atMost(Duration.ofSeconds(30)).until(() -> replayer.replayedLsn() == 20);
                assertThat(records.get()).isEqualTo(20);
                assertThat(bytes.get()).isEqualTo(20L * BLOCK);
            } finally {
                replayer.close();
            }
        }
    }

    @Test
    void aFullOrFailingBackingStoreIsRetriedWithTheSameRecordUntilItTakesIt() throws Exception {
        FaultPlan plan = new FaultPlan();
        try (TransactionLog txlog = openLog();
             FileBlockDevice file = FileBlockDevice.create(dir.resolve("s.img"), SIZE, false);
             Watch device = new Watch(new FaultInjectingDevice(file, plan))) {
            append(txlog, 1, 100);
            plan.failWrites(BlockError.ENOSPC, 40);
            Replayer replayer = new Replayer("s", txlog, device, dir.resolve("checkpoint"), 1, Duration.ofMillis(50))
                    .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(40)).start();
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> replayer.problem() != null);
                assertThat(replayer.problem()).contains("lsn 41").contains("ENOSPC").contains("free space");
                await().atMost(Duration.ofSeconds(30)).until(() -> device.attempts.get() >= 45); // retried, again and again
                assertThat(replayer.replayedLsn()).isEqualTo(40);
                assertThat(replayer.failure()).as("a full disk does not stop the replay").isNull();

                plan.failWrites(BlockError.EIO, 0); // now an I/O error: retried the same way
                long attempts = device.attempts.get();
                await().atMost(Duration.ofSeconds(30)).until(() -> device.attempts.get() >= attempts + 3
                        && String.valueOf(replayer.problem()).contains("EIO"));
                assertThat(replayer.replayedLsn()).isEqualTo(40);

                plan.failWrites(null, 0); // space is back
                await().atMost(Duration.ofSeconds(30)).until(() -> replayer.replayedLsn() == 100);
                assertThat(replayer.problem()).isNull();
                assertThat(replayer.failure()).isNull();

                append(txlog, 101, 120); // and it goes on following the log
                await().atMost(Duration.ofSeconds(30)).until(() -> replayer.replayedLsn() == 120);
            } finally {
                replayer.close();
            }
            assertThat(replayer.checkpointLsn()).isEqualTo(120);
            for (long l = 1; l <= 120; l++) {
                ByteBuffer back = ByteBuffer.allocate(BLOCK);
                file.readFully(offsetOf(l), back);
                assertThat(back.array()).as("lsn %d", l).isEqualTo(block(l));
            }
        }
    }

    @Test
    void aCorruptRecordStopsTheReplayBeforeItIsApplied() throws Exception {
        try (TransactionLog txlog = openLog();
             FileBlockDevice file = FileBlockDevice.create(dir.resolve("s.img"), SIZE, false)) {
            append(txlog, 1, 50);
            corrupt(block(31));
            Replayer replayer = new Replayer("s", txlog, file, dir.resolve("checkpoint"), 1, Duration.ofMillis(50))
                    .retryBackoff(Duration.ofMillis(10), Duration.ofMillis(40)).start();
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> replayer.failure() != null);
                assertThat(replayer.failure()).isInstanceOf(LogCorruptedException.class);
                assertThat(replayer.replayedLsn()).isEqualTo(30);
                assertThat(replayer.problem()).isNull();
            } finally {
                replayer.close();
            }
            ByteBuffer back = ByteBuffer.allocate(BLOCK);
            file.readFully(offsetOf(31), back);
            assertThat(back.array()).as("the corrupt record was not applied").isEqualTo(new byte[BLOCK]);
        }
    }

    /** Flips a bit inside the one place of the log's segment files that holds {@code payload}. */
    private void corrupt(byte[] payload) throws Exception {
        try (var segments = Files.list(dir.resolve("log"))) {
            for (Path p : (Iterable<Path>) segments::iterator) {
                byte[] bytes = Files.readAllBytes(p);
                for (int i = 0; i + payload.length <= bytes.length; i++) {
                    if (bytes[i] == payload[0] && java.util.Arrays.equals(bytes, i, i + payload.length, payload, 0,
                            payload.length)) {
                        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                            ch.write(ByteBuffer.wrap(new byte[] {(byte) (payload[100] ^ 1)}), i + 100);
                        }
                        return;
                    }
                }
            }
        }
        throw new AssertionError("payload not found in the log's segments");
    }
}
