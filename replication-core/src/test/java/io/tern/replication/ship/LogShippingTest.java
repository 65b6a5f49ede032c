package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.tern.log.LogConfig;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.TransactionLog;
import io.tern.replication.protocol.ErrorCode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A secondary's log pulled from a primary's over the replication protocol, across cuts and restarts. */
class LogShippingTest {
    @TempDir
    Path dir;

    private TransactionLog open(String name) throws Exception {
        return TransactionLog.open(new LogConfig().directory(dir.resolve(name)).name(name).segmentSize(4L << 20));
    }

    private static List<CompletableFuture<Long>> write(TransactionLog log, Random random, int count) {
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] b = new byte[512 * (1 + random.nextInt(16))];
            random.nextBytes(b);
            acks.add(log.appendWrite(1, 4096L * random.nextInt(10000), ByteBuffer.wrap(b), 0));
        }
        return acks;
    }

    private static void assertSameRecords(TransactionLog a, TransactionLog b) {
        assertThat(b.durableLsn()).isEqualTo(a.durableLsn());
        LogRecord ra = new LogRecord();
        LogRecord rb = new LogRecord();
        try (LogReader x = a.reader(1); LogReader y = b.reader(1)) {
            for (long lsn = 1; lsn <= a.durableLsn(); lsn++) {
                assertThat(x.next(ra)).isTrue();
                assertThat(y.next(rb)).isTrue();
                assertThat(rb.encoded()).as("record %d", lsn).isEqualTo(ra.encoded());
            }
        }
    }

    @Test
    void aSecondaryFollowsThePrimaryAcrossCutLinksAndARestart() throws Exception {
        Random random = new Random(Seeds.seed("LogShippingTest"));
        try (TransactionLog primary = open("primary");
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary).maxBatchBytes(64 << 10));
             ReplicationServer server = serve("c1", shipper)) {
            TransactionLog secondary = open("secondary");
            LogReceiver receiver = new LogReceiver("c1", "r0", "b", secondary, server.address()).start();
            try {
                // Writes while the secondary follows; the link is cut three times on the way.
                for (int round = 0; round < 4; round++) {
                    List<CompletableFuture<Long>> acks = write(primary, random, 1500);
                    if (round > 0) {
                        await().atMost(Duration.ofSeconds(30)).until(receiver::connected); // a session to cut
                        receiver.dropConnection();
                    }
                    for (CompletableFuture<Long> a : acks) {
                        a.get(30, TimeUnit.SECONDS);
                    }
                }
                await().atMost(Duration.ofSeconds(60)).until(() -> secondary.durableLsn() == primary.durableLsn());
                assertSameRecords(primary, secondary);
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        shipper.members().get("b").receivedLsn() == primary.durableLsn());
                assertThat(receiver.sessions()).isGreaterThanOrEqualTo(2);
            } finally {
                receiver.close();
                secondary.close();
            }
            // The secondary restarts later: it resumes from its own durable end, no repeats, no gaps.
            List<CompletableFuture<Long>> more = write(primary, random, 700);
            for (CompletableFuture<Long> a : more) {
                a.get(30, TimeUnit.SECONDS);
            }
            try (TransactionLog again = open("secondary");
                 LogReceiver resumed = new LogReceiver("c1", "r0", "b", again, server.address()).start()) {
                assertThat(again.durableLsn()).isEqualTo(6000);
                await().atMost(Duration.ofSeconds(60)).until(() -> again.durableLsn() == primary.durableLsn());
                assertSameRecords(primary, again);
                assertThat(again.failure()).isNull();
            }
            assertThat(server.protocolErrors()).isZero();
        }
    }

    @Test
    void aNodeOfAnotherClusterOrAheadOfThePrimaryIsRefused() throws Exception {
        try (TransactionLog primary = open("primary");
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary));
             ReplicationServer server = serve("c1", shipper);
             TransactionLog stranger = open("stranger");
             LogReceiver wrong = new LogReceiver("c2", "r0", "x", stranger, server.address()).start()) {
            await().atMost(Duration.ofSeconds(10)).until(() -> wrong.refusal() != null);
            assertThat(wrong.refusal().code()).isEqualTo(ErrorCode.WRONG_CLUSTER);
            assertThat(wrong.refusal().reason()).contains("c2").contains("c1");

            // A secondary whose log is longer than the primary's has a history the primary never had.
            try (TransactionLog ahead = open("ahead")) {
                for (int i = 0; i < 3; i++) {
                    ahead.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS);
                }
                try (LogReceiver diverged = new LogReceiver("c1", "r0", "y", ahead, server.address()).start()) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> diverged.refusal() != null);
                    assertThat(diverged.refusal().code()).isEqualTo(ErrorCode.SPLIT_BRAIN);
                }
            }
            // The shipper keeps serving: a proper secondary still gets everything.
            primary.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            try (TransactionLog good = open("good");
                 LogReceiver receiver = new LogReceiver("c1", "r0", "z", good, server.address()).start()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> good.durableLsn() == 1);
            }
        }
    }

    /** A node's listener serving just this shipper's resource. */
    static ReplicationServer serve(String cluster, LogShipper shipper) throws InterruptedException {
        return ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), cluster,
                r -> r.equals(shipper.config().resource()) ? shipper : null);
    }
}
