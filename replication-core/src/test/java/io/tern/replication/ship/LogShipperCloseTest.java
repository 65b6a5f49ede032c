package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.tern.block.file.FileBlockDevice;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing a shipper while its sync readers are inside reads of the device: the device's file
 * channel is shared with the primary's writes and its final checkpoint, and an interrupt that
 * reached a thread inside {@code FileChannel.read} would close it for everyone.
 */
class LogShipperCloseTest {
    @TempDir
    Path dir;

    @Test
    void closeLetsReadsInFlightFinishAndLeavesTheDeviceOpen() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             FileBlockDevice device = FileBlockDevice.create(dir.resolve("data.img"), 64L << 20, false)) {
            LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log));
            CountDownLatch reading = new CountDownLatch(2);
            for (int t = 0; t < 2; t++) {
                shipper.syncReader().execute(() -> {
                    ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
                    reading.countDown();
                    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
                    for (long off = 0; System.nanoTime() < until; off = (off + (1 << 20)) % (64L << 20)) {
                        device.read(off, chunk.clear()).join();
                    }
                });
            }
            assertThat(reading.await(10, TimeUnit.SECONDS)).isTrue();
            shipper.close(); // while both readers are busy reading
            ByteBuffer b = ByteBuffer.allocate(4096);
            device.read(0, b).join(); // fails if an interrupt closed the channel
            assertThat(b.position()).isEqualTo(4096);
        }
    }
}
