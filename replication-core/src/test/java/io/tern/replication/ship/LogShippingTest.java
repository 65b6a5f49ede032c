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

    @Test
    void aStrangerCannotMakeTheListenerBufferABigFrameNorAPeerAckWhatWasNeverShipped() throws Exception {
        try (TransactionLog primary = open("primary");
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary));
             ReplicationServer server = serve("c1", shipper)) {
            primary.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            // Before HELLO: a frame header announcing more than a HELLO can need is refused at once.
            io.netty.buffer.ByteBuf big = io.tern.replication.protocol.FrameCodec.encode(
                    io.netty.buffer.ByteBufAllocator.DEFAULT, io.tern.replication.protocol.MessageType.HELLO,
                    io.netty.buffer.Unpooled.wrappedBuffer(new byte[ReplicationServer.PRE_HELLO_MAX + 1]));
            byte[] header = new byte[io.tern.replication.protocol.FrameCodec.HEADER_LENGTH];
            big.getBytes(0, header);
            big.release();
            long errors = server.protocolErrors();
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(header);
                assertThat(s.getInputStream().read()).as("closed without waiting for the payload").isEqualTo(-1);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> server.protocolErrors() > errors);

            // After HELLO: an ACK past the log's durable end is a protocol error, and the member's place stays.
            long beforeAck = server.protocolErrors();
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.address().getPort())) {
                s.setSoTimeout(10_000);
                java.io.OutputStream out = s.getOutputStream();
                out.write(frame(io.tern.replication.protocol.MessageType.HELLO, b -> io.tern.replication.protocol.Messages.encode(new io.tern.replication.protocol.Messages.Hello(
                        "c1", "r0", "m", java.util.List.of(), 1, io.tern.replication.protocol.Messages.Mode.STREAM, 0), b)));
                out.write(frame(io.tern.replication.protocol.MessageType.ACK,
                        b -> io.tern.replication.protocol.Messages.encode(new io.tern.replication.protocol.Messages.Ack(1000, 1000), b)));
                java.io.InputStream in = s.getInputStream();
                byte[] buf = new byte[8192];
                while (in.read(buf) >= 0) {
                    // WELCOME and the record stream, then the close
                }
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> server.protocolErrors() > beforeAck);
            assertThat(shipper.members().get("m")).satisfiesAnyOf(p -> assertThat(p).isNull(),
                    p -> assertThat(p.receivedLsn()).isLessThanOrEqualTo(1));
        }
    }

    @Test
    void connectionsPastTheBoundsAreRefusedAndAMemberStillGetsIn() throws Exception {
        try (TransactionLog primary = open("primary");
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c1",
                     r -> r.equals("r0") ? shipper : null, 20, 20)) {
            primary.appendZero(1, 0, 4096, 0).get(10, TimeUnit.SECONDS);
            java.util.List<java.net.Socket> idle = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 30; i++) {
                    java.net.Socket s = new java.net.Socket("127.0.0.1", server.address().getPort());
                    s.setSoTimeout(10_000);
                    idle.add(s);
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionsRefused() == 10);
                for (java.net.Socket s : idle.subList(20, 30)) {
                    assertThat(s.getInputStream().read()).as("refused: closed at once").isEqualTo(-1);
                }
                for (java.net.Socket s : idle.subList(0, 10)) {
                    s.close();
                }
                // Room again: a member gets in and receives the log.
                try (TransactionLog good = open("good");
                     LogReceiver receiver = new LogReceiver("c1", "r0", "z", good, server.address()).start()) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> good.durableLsn() == 1);
                }
            } finally {
                for (java.net.Socket s : idle) {
                    s.close();
                }
            }
        }
    }

    private static byte[] frame(io.tern.replication.protocol.MessageType type,
                                java.util.function.Consumer<io.netty.buffer.ByteBuf> body) {
        io.netty.buffer.ByteBuf payload = io.netty.buffer.Unpooled.buffer();
        body.accept(payload);
        io.netty.buffer.ByteBuf f = io.tern.replication.protocol.FrameCodec.encode(io.netty.buffer.ByteBufAllocator.DEFAULT,
                type, payload);
        byte[] bytes = new byte[f.readableBytes()];
        f.readBytes(bytes);
        f.release();
        return bytes;
    }

    /** A node's listener serving just this shipper's resource. */
    static ReplicationServer serve(String cluster, LogShipper shipper) throws InterruptedException {
        return ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), cluster,
                r -> r.equals(shipper.config().resource()) ? shipper : null);
    }
}
