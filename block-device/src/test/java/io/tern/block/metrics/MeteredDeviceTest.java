package io.tern.block.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The meters of a device, a log's group commits and an event loop move as the work they watch. */
class MeteredDeviceTest {
    @TempDir
    Path dir;

    @Test
    void acknowledgedChangesAreTimedInTheAckHistogramAndReadsAreNot() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (FileBlockDevice file = FileBlockDevice.create(dir.resolve("d.img"), 1 << 20, false)) {
            MeteredDevice device = new MeteredDevice(file, registry, "r0");
            for (int i = 0; i < 5; i++) {
                device.write(i * 4096L, ByteBuffer.allocate(4096), false).get(10, TimeUnit.SECONDS);
            }
            device.flush().get(10, TimeUnit.SECONDS);
            device.read(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS);
        }
        Timer writes = registry.get("tern.block.ack").tags("resource", "r0", "op", "write").timer();
        assertThat(writes.count()).isEqualTo(5);
        CountAtBucket[] buckets = writes.takeSnapshot().histogramCounts();
        assertThat(buckets).hasSize(Buckets.LATENCY.length);
        assertThat(buckets[buckets.length - 1].count()).as("every write is in the 5 s bucket").isEqualTo(5);
        assertThat(registry.get("tern.block.ack").tags("op", "flush").timer().count()).isEqualTo(1);
        assertThat(registry.find("tern.block.ack").tags("op", "read").timer()).isNull();
        assertThat(registry.get("tern.block.requests").tags("op", "read").timer().count()).isEqualTo(1);
    }

    @Test
    void logMetersRecordEachSyncOnceBound() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        LogMeters meters = new LogMeters();
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).commitListener(meters))) {
            log.appendWrite(1, 0, ByteBuffer.allocate(4096), 0).get(10, TimeUnit.SECONDS); // before bind: not recorded
            meters.bind(registry, Tags.of("resource", "r0"));
            for (int i = 1; i <= 3; i++) {
                log.appendWrite(1, i * 4096L, ByteBuffer.allocate(4096), 0).get(10, TimeUnit.SECONDS);
            }
        }
        DistributionSummary records = registry.get("tern.log.commit.records").tags("resource", "r0").summary();
        Timer sync = registry.get("tern.log.sync").tags("resource", "r0").timer();
        assertThat(sync.count()).isEqualTo(3);
        assertThat(records.count()).isEqualTo(3);
        assertThat(records.totalAmount()).isEqualTo(3);
        assertThat(sync.totalTime(TimeUnit.NANOSECONDS)).isPositive();
    }

    @Test
    void aBlockedEventLoopShowsAsDelay() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try (EventLoopProbe probe = EventLoopProbe.start(group, "test", registry)) {
            Timer delay = registry.get("tern.eventloop.delay").tags("group", "test").timer();
            await().atMost(Duration.ofSeconds(10)).until(() -> delay.count() >= 2);
            group.next().submit(() -> {
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
                while (System.nanoTime() < until) {
                    Thread.onSpinWait(); // blocks the loop, as disk I/O on it would
                }
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> delay.max(TimeUnit.MILLISECONDS) >= 150);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
