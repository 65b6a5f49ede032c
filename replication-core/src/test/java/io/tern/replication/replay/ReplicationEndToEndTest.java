package io.tern.replication.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.TransactionLog;
import io.tern.replication.ship.LogReceiver;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.ship.ReplicationServer;
import io.tern.replication.ship.ShipperConfig;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Primary device → log → shipping over TCP → secondary log → replay onto the secondary's device,
 * in one process, with the link cut on the way. Write-order fidelity is checked at several
 * points: whenever the replay stops at LSN L, the secondary's image equals the primary's log
 * replayed from the start up to exactly L. At the end the two images are equal.
 */
class ReplicationEndToEndTest {
    private static final int SIZE = 16 << 20;

    @TempDir
    Path dir;

    @Test
    void theSecondaryImageIsAlwaysAPrefixOfThePrimaryHistoryAndConverges() throws Exception {
        Random random = new Random(Seeds.seed("ReplicationEndToEndTest"));
        try (LoggedDevice primary = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve("p.img"), SIZE, false))
                .log(new LogConfig().directory(dir.resolve("p-log")).name("p"))
                .checkpointFile(dir.resolve("p.checkpoint"))
                .retainFrom(() -> 0));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .maxBatchBytes(256 << 10));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c", r -> shipper);
             TransactionLog secondaryLog = TransactionLog.open(new LogConfig().directory(dir.resolve("s-log")).name("s"));
             FileBlockDevice secondaryDevice = FileBlockDevice.create(dir.resolve("s.img"), SIZE, false)) {
            Path checkpoint = dir.resolve("s.checkpoint");
            Replayer[] replayer = {new Replayer("s", secondaryLog, secondaryDevice, checkpoint, 1, Duration.ofMillis(100)).start()};
            try (LogReceiver receiver = new LogReceiver("c", "r0", "s", secondaryLog, server.address(),
                    () -> replayer[0].replayedLsn()).start()) {
                int checks = 0;
                long previous = 0;
                for (int round = 0; round < 5; round++) {
                    List<CompletableFuture<Void>> writes = new ArrayList<>();
                    for (int i = 0; i < 400; i++) {
                        long offset = 512L * random.nextInt(SIZE / 512 - 256);
                        if (random.nextInt(10) == 0) {
                            writes.add(primary.writeZeroes(offset, 512L * (1 + random.nextInt(64)), false));
                        } else {
                            byte[] b = new byte[512 * (1 + random.nextInt(128))]; // overlapping writes on purpose
                            random.nextBytes(b);
                            writes.add(primary.write(offset, ByteBuffer.wrap(b), false));
                        }
                    }
                    if (round % 2 == 1) {
                        receiver.dropConnection();
                    }
                    // Stop the replay wherever it is, check it, and resume from its checkpoint.
                    replayer[0].close();
                    long at = replayer[0].checkpointLsn();
                    assertThat(at).as("the consistent point never goes back").isGreaterThanOrEqualTo(previous);
                    previous = at;
                    System.err.printf("round %d: replay stopped at lsn %d of %d logged%n", round, at, primary.loggedLsn());
                    assertThat(Files.readAllBytes(dir.resolve("s.img")))
                            .as("secondary image at lsn %d is the primary's history up to %d", at, at)
                            .isEqualTo(imageAfter(primary.log(), at));
                    checks++;
                    replayer[0] = new Replayer("s", secondaryLog, secondaryDevice, checkpoint, 1, Duration.ofMillis(100)).start();
                    for (CompletableFuture<Void> w : writes) {
                        w.get(30, TimeUnit.SECONDS);
                    }
                }
                long end = primary.loggedLsn();
                await().atMost(Duration.ofSeconds(60)).until(() -> replayer[0].replayedLsn() == end);
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        shipper.members().get("s").replayedLsn() == end);
                assertThat(checks).isEqualTo(5);
                assertThat(previous).as("checks made past the start of the history").isPositive();
            } finally {
                replayer[0].close();
            }
            assertThat(replayer[0].failure()).isNull();
            assertThat(Files.readAllBytes(dir.resolve("s.img"))).isEqualTo(Files.readAllBytes(dir.resolve("p.img")));
        }
    }

    /** The image a device of SIZE zero bytes holds after the log's records 1..lsn. */
    private static byte[] imageAfter(TransactionLog log, long lsn) {
        byte[] image = new byte[SIZE];
        LogRecord rec = new LogRecord();
        try (LogReader r = log.reader(1)) {
            for (long l = 1; l <= lsn; l++) {
                assertThat(r.next(rec)).isTrue();
                switch (rec.op()) {
                    case WRITE -> rec.payload().get(image, (int) rec.offset(), rec.length());
                    case ZERO -> Arrays.fill(image, (int) rec.offset(), (int) (rec.offset() + rec.length()), (byte) 0);
                    case EPOCH -> {
                    }
                }
            }
        }
        return image;
    }
}
