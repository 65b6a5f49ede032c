package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.links.Link;
import io.tern.links.LinkStore;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import io.tern.replication.history.History;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.Keepalive;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import io.tern.replication.replay.Replayer;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Seeded fuzzing of the replication protocol against a real {@link ReplicationServer} serving a
 * real primary (a logged device, its log and {@link LogShipper}, a mesh member with a
 * {@link LinkStore}), while a well-behaved secondary ({@link LogReceiver} and a {@link Replayer})
 * follows it and the primary keeps writing. Cases ({@link ReplicationFuzzer}): random bytes;
 * damaged, mutated and refused HELLOs of every mode; sessions of every mode (STREAM, SYNC, VERIFY,
 * LINKS, PROBE) carrying valid messages of every type the listener takes (ACK, PING,
 * SYNC_DIGESTS, STATE, LINKS, HANDOVER), then a hostile one: a damaged frame, a mutated payload,
 * a type not taken there, a truncated frame, an oversized one, a zstd payload. Besides, a few
 * connections stall in the middle of a frame and must be closed by the keepalive.
 *
 * <p>Checks: every case gets the answer the protocol's decoders predict, within a deadline; the
 * listener stays up; the secondary follows the primary throughout (it is never more than a few
 * write batches behind) and its replayed image equals the primary's at the end; the heap after a
 * GC stays within {@link #HEAP_GROWTH_LIMIT} of what it was before; the link store holds no link
 * beyond those a member with the fuzzer's names could have written.
 *
 * <p>{@code -Dtern.fuzz.cases=N} sets the number of cases (default {@link #DEFAULT_CASES}),
 * {@code -Dtern.seed=N} the seed, {@code -Dtern.fuzz.threads=N} the clients (default 2). A
 * failure names the fuzzer, its connection number, the case and its bytes; each fuzzer's cases
 * are a pure function of the seed and its number, though the listener's answers may depend on
 * the timing of the primary's writes.
 */
class ReplicationFuzzTest {
    static final long DEFAULT_CASES = 70_000;
    /** Cases per batch of primary writes: the writes keep pace with the fuzzing, whatever its speed. */
    private static final int PACE_EVERY = 256;
    private static final int WRITES_PER_BATCH = 4;
    /** The secondary must have received the batch this many batches back before the next is written. */
    private static final int LAG_BATCHES = 4;
    private static final long SIZE = 16 << 20;
    /**
     * What the heap (after a full GC) may grow by over a run. Measured on 2026-12-01: about 1 MiB,
     * for 70,000 cases (6,900 connections) as for 636,000 (62,800 connections): what stays is the
     * listener's per-peer state for the fuzzer's few node names and the logs' indexes. Anything
     * kept per connection past its close — a channel with its pipeline is several KiB — would
     * cross this bound within the default run, and a few hundred bytes per connection within a
     * million-case run.
     */
    static final long HEAP_GROWTH_LIMIT = 32L << 20;

    @TempDir
    Path dir;


    /** The primary's logged device in {@code dir} (p.img, p-log, p.checkpoint), keeping its whole log. */
    private LoggedDevice openPrimary() throws Exception {
        return LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve("p.img"), SIZE, false))
                .log(new LogConfig().directory(dir.resolve("p-log")).name("p"))
                .checkpointFile(dir.resolve("p.checkpoint"))
                .retainFrom(() -> 0));
    }

    @Test
    void hostilePeersGetOnlyTheirOwnConnectionsClosedWhileAMemberReplicates() throws Exception {
        long seed = Seeds.seed("ReplicationFuzzTest");
        long cases = Long.getLong("tern.fuzz.cases", DEFAULT_CASES);
        int threads = Integer.getInteger("tern.fuzz.threads", 2);
        Random random = new Random(seed);
        quietLogging();
        try (LoggedDevice primary = openPrimary();
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .maxBatchBytes(256 << 10).device(primary, primary::appliedLsn, primary::loggedLsn));
             TestMember member = new TestMember(LinkStore.open(dir.resolve("links-a"), "a"), primary.log())) {
            member.links().put("primary-a", "a");
            member.links().put("size-a", Long.toString(SIZE));
            try (ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c",
                    new ReplicationServer.Directory() {
                        @Override
                        public LogShipper shipper(String resource) {
                            if (!resource.equals("r0")) {
                                throw new ProtocolException(ErrorCode.UNKNOWN_RESOURCE, "no resource '" + resource + "'");
                            }
                            return shipper;
                        }

                        @Override
                        public MeshMember member(String resource) {
                            return resource.equals("r0") ? member : null;
                        }
                    });
                 TransactionLog secondaryLog = TransactionLog.open(new LogConfig().directory(dir.resolve("s-log")).name("s"));
                 FileBlockDevice secondaryDevice = FileBlockDevice.create(dir.resolve("s.img"), SIZE, false)) {
                Replayer replayer = new Replayer("s", secondaryLog, secondaryDevice, dir.resolve("s.checkpoint"), 1,
                        Duration.ofMillis(500)).start();
                try (LogReceiver receiver = new LogReceiver("c", "r0", "s", secondaryLog, server.address(),
                        replayer::replayedLsn).start()) {
                    run(seed, cases, threads, random, primary, shipper, member, server, secondaryLog, receiver, replayer);
                } finally {
                    replayer.close();
                }
                assertThat(replayer.failure()).as("the secondary's replay").isNull();
                assertThat(Files.readAllBytes(dir.resolve("s.img"))).as("the secondary's image")
                        .isEqualTo(Files.readAllBytes(dir.resolve("p.img")));
            }
        } finally {
            restoreLogging();
        }
    }

    private void run(long seed, long cases, int threads, Random random, LoggedDevice primary, LogShipper shipper,
                     TestMember member, ReplicationServer server, TransactionLog secondaryLog, LogReceiver receiver,
                     Replayer replayer) throws Exception {
        InetSocketAddress address = server.address();
        waitFor(Duration.ofSeconds(30), receiver::connected, "the secondary's first session");
        long linksRefusedBefore = ReplicationServer.linksRefused();
        long heapBefore = heapAfterGc();
        List<StalledPeer> stalled = stall(address, shipper);
        long started = System.nanoTime();

        Semaphore pace = new Semaphore(0);
        ReplicationFuzzer.Counts counts = new ReplicationFuzzer.Counts(cases, pace, PACE_EVERY);
        ReplicationFuzzer.Target target = new ReplicationFuzzer.Target(address, "c", "r0", "a", SIZE, primary.log(), shipper);
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        AtomicLong batches = new AtomicLong();
        List<Future<?>> fuzzers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            fuzzers.add(pool.submit(new ReplicationFuzzer(i, seed, target, counts, 24)));
        }
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        pool.submit(() -> write(primary, secondaryLog, random, pace, stop, batches, writerFailure));
        try {
            for (Future<?> f : fuzzers) {
                try {
                    f.get(30, TimeUnit.MINUTES);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof AssertionError a ? a : new AssertionError(e.getCause());
                }
            }
        } finally {
            stop.set(true);
            counts.abort(); // another fuzzer that failed stops the others
            pace.release(); // lets the writer see the end
            pool.shutdownNow();
            assertThat(pool.awaitTermination(2, TimeUnit.MINUTES)).as("the fuzzers and the writer stopped").isTrue();
        }
        long fuzzNanos = System.nanoTime() - started;
        assertThat(writerFailure.get()).as("the primary's writer and the secondary's progress").isNull();

        // The stalled connections: each closed by the listener within the keepalive's deadline.
        for (StalledPeer p : stalled) {
            p.assertClosed(Duration.ofSeconds(Keepalive.DEAD_SECONDS + 10));
        }

        // The member still replicates: everything written is received, replayed and acknowledged.
        long end = primary.loggedLsn();
        waitFor(Duration.ofSeconds(60), () -> primary.log().durableLsn() == end, "the primary's log to be durable");
        waitFor(Duration.ofSeconds(60), () -> replayer.replayedLsn() == end, "the secondary to replay lsn " + end);
        waitFor(Duration.ofSeconds(30), () -> shipper.members().get("s") != null
                && shipper.members().get("s").replayedLsn() == end, "the secondary's ACK of lsn " + end);
        assertThat(receiver.refusal()).as("the secondary was never refused").isNull();
        assertThat(receiver.connected()).isTrue();

        // The listener is up and serves a newcomer.
        try (FuzzWire.Conn c = new FuzzWire.Conn(address)) {
            c.send(FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(new Messages.Hello("c", "r0",
                    "late", List.of(), 0, Messages.Mode.PROBE, 0), b))));
            Messages.Welcome w = Messages.decodeWelcome(io.netty.buffer.Unpooled.wrappedBuffer(
                    c.await(MessageType.WELCOME, java.util.Set.of(), "a PROBE after the fuzzing").payload()));
            assertThat(w.lastLsn()).isEqualTo(end);
        }

        // Links: only those a member with the fuzzer's names could have written, each by its owner.
        List<Link> stored = member.links().all();
        for (Link l : stored) {
            if (l.node().equals("a")) {
                assertThat(l.name()).isIn("primary-a", "size-a");
                continue;
            }
            assertThat(counts.meshNodes).as("writer of stored link %s", l).contains(l.node());
            assertThat(LinkExchange.owns(l.node(), l.name())).as("%s owns its stored link %s", l.node(), l.name()).isTrue();
            assertThat(counts.storable).as("stored link %s was sent validly by its owner", l).contains(l.name());
        }
        long linksRefused = ReplicationServer.linksRefused() - linksRefusedBefore;
        if (counts.byKind.get(ReplicationFuzzer.Kind.LINKS).sum() > 100) {
            assertThat(linksRefused).as("links refused for not being their sender's").isPositive();
        }

        long heapAfter = heapAfterGc();
        assertThat(heapAfter - heapBefore).as("heap growth after GC over %d cases", counts.total.get())
                .isLessThan(HEAP_GROWTH_LIMIT);

        long total = counts.total.get() + stalled.size();
        System.err.printf("fuzz: replication %d cases in %.1f s (seed %d, %d threads, %d connections): %s, stalled %d; "
                        + "listener: %d protocol errors, %d rejects, %d links refused, %d stored from peers; "
                        + "secondary verified %d records in %d write batches; heap after GC %d -> %d MiB%n",
                total, fuzzNanos / 1e9, seed, threads, counts.connections.sum(),
                counts.summary(), stalled.size(), server.protocolErrors(), rejects(server), linksRefused,
                stored.stream().filter(l -> !l.node().equals("a")).count(), end, batches.get(), heapBefore >> 20,
                heapAfter >> 20);
        assertThat(counts.total.get()).isGreaterThanOrEqualTo(cases);
        assertThat(server.protocolErrors()).as("protocol errors counted by the listener").isPositive();
    }

    /**
     * A bug this fuzzer found (seed 20261121; the seed does not matter), kept as a regression
     * test. A SYNC peer that asks for chunks at a pace within the bound of
     * {@link ShippingHandler#MAX_SYNC_OUTSTANDING} and never reads the answers makes the primary
     * queue every answer (up to 4 MiB each) in the channel's outbound buffer: the handler counts
     * a chunk as answered when its SYNC_DATA is handed to the channel, not when it was written to
     * the socket, and SYNCING does not look at writability. Measured: the primary's direct memory
     * grows by about 4 MiB per question (past 200 MiB after some 50 questions), without end; one peer
     * can take the primary out of direct memory, and every other connection with it. Now a
     * request stays outstanding until its answer is written to the socket: the peer is cut off at
     * the bound, and the primary holds at most the bound of answers and the socket's buffers.
     */
    @Test
    void aSyncPeerThatNeverReadsItsAnswersHoldsBoundedMemoryOnThePrimary() throws Exception {
        long seed = Seeds.seed("ReplicationFuzzTest.unreadSyncAnswers");
        Random random = new Random(seed);
        quietLogging();
        try (LoggedDevice primary = openPrimary();
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary.log())
                     .device(primary, primary::appliedLsn, primary::loggedLsn));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c",
                     r -> shipper)) {
            io.netty.buffer.ByteBufAllocatorMetric direct =
                    ((io.netty.buffer.ByteBufAllocatorMetricProvider) io.netty.buffer.ByteBufAllocator.DEFAULT).metric();
            long before = direct.usedDirectMemory();
            long bound = (ShippingHandler.MAX_SYNC_OUTSTANDING + 8L) * Messages.MAX_CHUNK;
            long peak = 0;
            boolean cutOff = false;
            try (java.net.Socket s = new java.net.Socket()) {
                s.setReceiveBufferSize(64 << 10);
                s.connect(server.address(), 10_000);
                s.getOutputStream().write(FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(
                        new Messages.Hello("c", "r0", "greedy", List.of(), 0, Messages.Mode.SYNC, 0), b))));
                for (int group = 0; group < 12 && !cutOff; group++) {
                    for (int i = 0; i < 8 && !cutOff; i++) { // never more than the bound in flight, were the answers read
                        byte[] digests = new byte[Messages.blocks(Messages.MAX_CHUNK, 4096) * 16];
                        random.nextBytes(digests); // every block differs: each answer is a whole chunk
                        long offset = (long) Messages.MAX_CHUNK * random.nextInt((int) (SIZE / Messages.MAX_CHUNK));
                        Messages.SyncDigest d = new Messages.SyncDigest(offset, Messages.MAX_CHUNK, 4096,
                                io.tern.replication.protocol.BlockDigest.XXH128, digests);
                        try {
                            s.getOutputStream().write(FuzzWire.frame(MessageType.SYNC_DIGESTS,
                                    FuzzWire.payload(b -> Messages.encode(d, b))));
                        } catch (java.net.SocketException e) {
                            cutOff = true; // the primary closed the connection: the peer passed the bound
                        }
                    }
                    long want = before + (group + 1) * 8L * Messages.MAX_CHUNK * 9 / 10;
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (direct.usedDirectMemory() < want && System.nanoTime() < deadline) {
                        java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
                    }
                    peak = Math.max(peak, direct.usedDirectMemory() - before);
                    if (peak > 2 * bound) {
                        break; // proven: well past anything the bound allows
                    }
                }
            }
            System.err.printf("unread SYNC answers: the primary's direct memory grew by %d MiB at most (bound %d MiB)%n",
                    peak >> 20, bound >> 20);
            assertThat(peak).as("direct memory the primary holds for a SYNC peer that never reads").isLessThan(bound);
            assertThat(cutOff || server.protocolErrors() > 0).as("a peer past the bound of outstanding requests is cut off")
                    .isTrue();
        } finally {
            restoreLogging();
        }
    }

    /**
     * A bug this fuzzer found (seed 20261121, fuzzer 0, connection 1191: a zstd PING whose
     * mutation cut it to nothing), kept as a regression test. A frame with the zstd flag and an empty
     * payload makes {@code FrameDecoder.decompress} call zstd-jni's {@code getFrameContentSize}
     * on an empty array, which throws ArrayIndexOutOfBoundsException instead of the decoder's
     * ProtocolException. The connection is still closed, but the violation is not counted in
     * {@code tern_replication_protocol_errors_total} and is logged as "connection to ? failed:
     * java.lang.ArrayIndexOutOfBoundsException". Now it is a ProtocolException, counted.
     */
    @Test
    void anEmptyCompressedPayloadIsCountedAsAProtocolError() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("p-log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log));
             ReplicationServer server = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "c",
                     r -> shipper)) {
            long before = server.protocolErrors();
            try (FuzzWire.Conn c = new FuzzWire.Conn(server.address())) {
                c.send(FuzzWire.frame(MessageType.HELLO.code(), FrameCodec.FLAG_ZSTD, new byte[0]));
                assertThat(c.awaitClose(java.util.Set.of(), "an empty zstd HELLO")).isEmpty();
            }
            waitFor(Duration.ofSeconds(2), () -> server.protocolErrors() > before,
                    "the listener to count an empty zstd payload as a protocol error (it closed the connection "
                            + "without counting it)");
        }
    }

    private static long rejects(ReplicationServer server) {
        long n = 0;
        for (ErrorCode code : ErrorCode.values()) {
            n += server.rejected(code);
        }
        return n;
    }

    /**
     * The primary's writes, a batch per {@link #PACE_EVERY} cases; before each batch, the secondary
     * must have received the batch {@link #LAG_BATCHES} back: it keeps up throughout the fuzzing.
     */
    private static void write(LoggedDevice primary, TransactionLog secondaryLog, Random random, Semaphore pace,
                              java.util.concurrent.atomic.AtomicBoolean stop, AtomicLong batches,
                              AtomicReference<Throwable> failure) {
        try {
            long[] ends = new long[LAG_BATCHES];
            while (true) {
                pace.acquire();
                if (stop.get()) {
                    return;
                }
                long due = ends[(int) (batches.get() % LAG_BATCHES)];
                waitFor(Duration.ofSeconds(30), () -> secondaryLog.durableLsn() >= due,
                        "the secondary to receive lsn " + due + " while the fuzzing goes on");
                List<CompletableFuture<Void>> writes = new ArrayList<>();
                for (int i = 0; i < WRITES_PER_BATCH; i++) {
                    long offset = 512L * random.nextInt((int) (SIZE / 512) - 64);
                    if (random.nextInt(8) == 0) {
                        writes.add(primary.writeZeroes(offset, 512L * (1 + random.nextInt(64)), false));
                    } else {
                        byte[] b = new byte[512 * (1 + random.nextInt(64))];
                        random.nextBytes(b);
                        writes.add(primary.write(offset, ByteBuffer.wrap(b), false));
                    }
                }
                for (CompletableFuture<Void> w : writes) {
                    w.get(30, TimeUnit.SECONDS);
                }
                ends[(int) (batches.getAndIncrement() % LAG_BATCHES)] = primary.loggedLsn();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    /** A connection that stops in the middle of a frame: the listener must close it once it hears nothing. */
    private static final class StalledPeer {
        private final String what;
        private final FuzzWire.Conn conn;

        StalledPeer(String what, FuzzWire.Conn conn) {
            this.what = what;
            this.conn = conn;
        }

        void assertClosed(Duration within) throws IOException {
            long deadline = System.nanoTime() + within.toNanos();
            try {
                while (conn.next() != null) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError(what + ": still open after " + within);
                    }
                }
            } catch (java.net.SocketTimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(what + ": still open after " + within, e);
                }
                assertClosed(Duration.ofNanos(deadline - System.nanoTime()));
            } finally {
                conn.close();
            }
        }
    }

    /** Opens the stalled connections: before and after HELLO, a partial header and a partial payload. */
    private static List<StalledPeer> stall(InetSocketAddress address, LogShipper shipper) throws IOException {
        List<StalledPeer> peers = new ArrayList<>();
        byte[] hello = FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(new Messages.Hello("c",
                "r0", "stall", List.of(), 0, Messages.Mode.SYNC, 0), b)));
        byte[] ack = FuzzWire.frame(MessageType.ACK, FuzzWire.payload(b -> Messages.encode(new Messages.Ack(0, 0), b)));
        byte[] bigHeader = FuzzWire.frame(MessageType.SYNC_DIGESTS, new byte[0]);
        FuzzWire.putInt(bigHeader, 8, FrameCodec.MAX_PAYLOAD);
        byte[] bigHello = FuzzWire.frame(MessageType.HELLO, new byte[0]);
        FuzzWire.putInt(bigHello, 8, 200 << 10);
        Object[][] plans = {
            {"a partial header before HELLO", java.util.Arrays.copyOf(hello, 7)},
            {"a 200 KiB HELLO of which 100 bytes came", FuzzWire.concat(bigHello, new byte[100])},
            {"a partial ACK after a SYNC HELLO", FuzzWire.concat(hello, java.util.Arrays.copyOf(ack, 20))},
            {"a 64 MiB SYNC_DIGESTS of which 1 KiB came", FuzzWire.concat(hello, FuzzWire.concat(bigHeader, new byte[1024]))},
        };
        for (Object[] p : plans) {
            FuzzWire.Conn c = new FuzzWire.Conn(address);
            c.send((byte[]) p[1]);
            peers.add(new StalledPeer((String) p[0], c));
        }
        return peers;
    }

    /** Waits for a condition with a deadline; fails naming it. */
    static void waitFor(Duration within, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("waited " + within.toSeconds() + " s for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    private static long heapAfterGc() {
        java.lang.management.MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    // The listener logs every refused peer and protocol error (WARN): 100,000 lines would cost more
    // than the fuzzing. Turned down while this test runs, and restored after.
    private static final String[] NOISY = {ShippingHandler.class.getName(), MeshSession.class.getName(),
        LinkExchange.class.getName(), Keepalive.class.getName(), ConnectionLimiter.class.getName()};
    private static final java.util.Map<String, ch.qos.logback.classic.Level> LEVELS = new java.util.HashMap<>();

    private static void quietLogging() {
        for (String name : NOISY) {
            ch.qos.logback.classic.Logger l = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(name);
            LEVELS.put(name, l.getLevel());
            l.setLevel(ch.qos.logback.classic.Level.ERROR);
        }
    }

    private static void restoreLogging() {
        for (String name : NOISY) {
            ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(name)).setLevel(LEVELS.get(name));
        }
    }

    /** The primary's mesh member: its links, its state, and a refusal for every handover request. */
    private static final class TestMember implements MeshMember, AutoCloseable {
        private final LinkStore links;
        private final TransactionLog log;

        TestMember(LinkStore links, TransactionLog log) {
            this.links = links;
            this.log = log;
        }

        @Override
        public String node() {
            return "a";
        }

        @Override
        public LinkStore links() {
            return links;
        }

        @Override
        public Messages.State state() {
            return new Messages.State("a", Messages.Role.PRIMARY, log.durableLsn(), History.empty().forWire());
        }

        @Override
        public void session(String peer, MeshSession session, boolean open) {
        }

        @Override
        public void peerState(String peer, Messages.State state) {
        }

        @Override
        public long handOver(String peer) {
            throw new IllegalStateException("this test's primary hands over to nobody");
        }

        @Override
        public void handoverAnswer(String peer, Messages.Handover answer) {
        }

        @Override
        public void close() {
        }
    }
}
