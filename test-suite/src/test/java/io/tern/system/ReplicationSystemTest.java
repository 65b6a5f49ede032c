package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.sha256;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real node processes replicating a resource over loopback: joins under write load, a full sync
 * killed halfway, and bad input on the replication port.
 */
class ReplicationSystemTest {
    private static final String RES = "r0";

    @TempDir
    Path dir;

    @Test
    void twoAndThenThreeNodesJoinUnderWriteLoadAndHoldTheSameImage() throws Exception {
        long size = 64L << 20;
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1"); TernNode c = init(dir, "c", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "64M");
            try (Workload load = new Workload(a::nbdAddress, RES, size, Seeds.seed("ReplicationSystemTest-join"))
                    .compressible().start()) {
                load.awaitMore(500, 60);
                // b joins while its daemon runs; c joins first and starts after.
                b.start();
                tern(b, "join", RES, "--peer", a.peer());
                load.awaitMore(500, 60);
                // c asks for compressed frames, caps its log stream (Netty's traffic shaping) and
                // compares blocks by SHA-256 (b by the default XXH3-128).
                tern(c, "join", RES, "--peer", a.peer(), "--compress", "--fetch-rate", "64M", "--sync-digest", "sha256");
                c.start();
                await().atMost(Duration.ofSeconds(120)).until(() ->
                        "done".equals(((Map<?, ?>) b.resource(RES).get("sync")).get("phase"))
                                && "done".equals(((Map<?, ?>) c.resource(RES).get("sync")).get("phase")));
                assertThat(((Map<?, ?>) b.resource(RES).get("sync")).get("digest")).isEqualTo("xxh128");
                assertThat(((Map<?, ?>) c.resource(RES).get("sync")).get("digest")).isEqualTo("sha256");
                load.awaitMore(500, 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(120), b, c);

            Map<String, Object> primary = a.resource(RES);
            assertThat(peers(primary)).extracting(p -> p.get("node")).containsExactly("b", "c");
            assertThat(peers(primary)).allSatisfy(p -> {
                assertThat(p.get("state")).isEqualTo("Replicating");
                assertThat(number(p, "replayed_lsn")).isEqualTo(number(primary, "logged_lsn"));
            });
            Map<String, Object> viaZstd = peers(c.resource(RES)).get(0);
            assertThat(number(viaZstd, "compressed_bytes")).isPositive()
                    .isLessThan(number(viaZstd, "decompressed_bytes") * 3 / 4);
            // The links travel the full mesh, each straight from the node that owns it (the last
            // part of its name): b and c learn each other's address from a's, and talk directly.
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(link(b, "version-1-a")).startsWith("1,").endsWith(".a");
                assertThat(link(c, "member-b-a")).endsWith(".a");
                assertThat(link(c, "address-b")).endsWith(".b");
                assertThat(link(b, "address-c")).endsWith(".c");
                assertThat(link(a, "replay-b")).startsWith("1,").endsWith(".b");
                assertThat(link(a, "sync-c")).startsWith("done@").endsWith(".c");
                assertThat(link(c, "replay-b")).startsWith("1,").endsWith(".b");
                assertThat(link(b, "sync-c")).startsWith("done@").endsWith(".c");
            });
            // A secondary's export is read-only: a real client cannot open it for writing, and a
            // write sent anyway is refused with EPERM; the image below does not change.
            String bUri = "nbd://" + b.nbdAddress().getHostString() + ":" + b.nbdAddress().getPort() + "/" + RES;
            io.tern.testing.ExternalTool.Result refused = io.tern.testing.ExternalTool.run(dir, 60, "qemu-io", "-f", "raw",
                    "-c", "write -P 0x5a 0 4k", bUri);
            assertThat(refused.exitCode()).isNotZero();
            assertThat(refused.stderr()).containsIgnoringCase("permission denied");
            try (io.tern.block.nbd.NbdClient client = io.tern.block.nbd.NbdClient.connect(b.nbdAddress(), RES)) {
                assertThat(client.write(0, new byte[4096], false)).failsWithin(Duration.ofSeconds(10))
                        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                        .havingCause().isInstanceOfSatisfying(io.tern.block.nbd.NbdClient.NbdError.class,
                                e -> assertThat(e.errno()).isEqualTo(1));
            }
            String want = exportDigest(a, RES, dir);
            assertThat(exportDigest(b, RES, dir)).as("b's image").isEqualTo(want);
            assertThat(exportDigest(c, RES, dir)).as("c's image").isEqualTo(want);
            a.stop();
            b.stop();
            c.stop();
            String file = sha256(a.home().resolve("resources/r0/data.img"));
            assertThat(file).isEqualTo(want);
            assertThat(sha256(b.home().resolve("resources/r0/data.img"))).isEqualTo(want);
            assertThat(sha256(c.home().resolve("resources/r0/data.img"))).isEqualTo(want);
        }
    }

    @Test
    void aFullSyncKilledHalfwayResumesFromItsLastChunk() throws Exception {
        long size = 64L << 20;
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "64M");
            fillRandom(a, size, Seeds.seed("ReplicationSystemTest-resume"));
            tern(b, "join", RES, "--peer", a.peer(), "--sync-rate", "16M");
            b.start();
            // Progress is stored at least every second, behind what was copied: wait for a stored
            // quarter (not for the copy counter, which on a slow machine runs a second or more ahead).
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() ->
                    storedSyncProgress(b) >= size / 4);
            b.kill();
            long stored = storedSyncProgress(b);
            assertThat(stored).as("progress stored before the kill").isGreaterThanOrEqualTo(size / 4).isLessThan(size);

            b.start();
            Map<String, Object> resumed = sync(b);
            assertThat(resumed.get("phase")).isEqualTo("copying");
            assertThat(number(resumed, "copied_bytes")).as("resumes where it stopped").isGreaterThanOrEqualTo(stored);
            await().atMost(Duration.ofSeconds(60)).until(() -> !"copying".equals(sync(b).get("phase")));
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            // What the restarted sync sent: the rest of the device, not all of it again.
            String log = java.nio.file.Files.readString(b.home().resolve("daemon-2.err"));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("full sync copied \\d+ bytes \\((\\d+) sent")
                    .matcher(log);
            assertThat(m.find()).as("the sync's summary in %s", b.home().resolve("daemon-2.err")).isTrue();
            long sent = Long.parseLong(m.group(1));
            assertThat(sent).isLessThanOrEqualTo(size - stored).isGreaterThan(0);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
        }
    }

    @Test
    void malformedFramesAndAnotherClusterAreRefusedWhileReplicationGoesOn() throws Exception {
        long size = 16L << 20;
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1"); TernNode x = init(dir, "x", "c2")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            // A node of another cluster (another CA) cannot join: its handshake is refused.
            assertThat(x.command(60, "join", RES, "--peer", a.peer(), "--home", x.home().toString())).isNotZero();
            assertThat(java.nio.file.Files.readString(x.home().resolve("command.err"))).contains("certificate was refused");

            try (Workload load = new Workload(a::nbdAddress, RES, size, Seeds.seed("ReplicationSystemTest-bad")).start()) {
                Random random = new Random(Seeds.seed("ReplicationSystemTest-frames"));
                for (int i = 0; i < 40; i++) {
                    // Inside TLS, as member b: the frames reach the frame decoder.
                    try (Socket s = io.tern.harness.TlsSockets.as(b.home(), a.listenAddress())) {
                        DataOutputStream out = new DataOutputStream(s.getOutputStream());
                        out.write(badFrame(random, i));
                        out.flush();
                        // The node closes the connection (perhaps after a REJECT); it never hangs on it.
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        byte[] rest = in.readAllBytes();
                        assertThat(rest.length).isLessThan(2048);
                    }
                }
                // A well-formed HELLO of another cluster is answered with REJECT(WRONG_CLUSTER).
                try (Socket s = io.tern.harness.TlsSockets.as(b.home(), a.listenAddress())) {
                    ByteBuf payload = Unpooled.buffer();
                    Messages.encode(new Messages.Hello("c2", RES, "x", java.util.List.of(), 1, Messages.Mode.STREAM, 0), payload);
                    s.getOutputStream().write(ByteBufUtil.getBytes(FrameCodec.encode(Unpooled.buffer().alloc(),
                            MessageType.HELLO, payload)));
                    DataInputStream in = new DataInputStream(s.getInputStream());
                    byte[] header = new byte[FrameCodec.HEADER_LENGTH];
                    in.readFully(header);
                    ByteBuf h = Unpooled.wrappedBuffer(header);
                    assertThat(h.getInt(0)).isEqualTo(FrameCodec.MAGIC);
                    assertThat(h.getUnsignedByte(5)).as("message type").isEqualTo((short) MessageType.REJECT.code());
                    byte[] body = new byte[h.getInt(8)];
                    in.readFully(body);
                    assertThat(Messages.decodeReject(Unpooled.wrappedBuffer(body)).code()).isEqualTo(ErrorCode.WRONG_CLUSTER);
                }
                load.awaitMore(300, 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
            String metrics = a.http("GET", "/metrics");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^tern_replication_protocol_errors_total (\\S+)")
                    .matcher(metrics);
            assertThat(m.find()).as("protocol error counter in /metrics").isTrue();
            assertThat(Double.parseDouble(m.group(1))).isGreaterThanOrEqualTo(30);
            assertThat(a.isAlive()).isTrue();
        }
    }

    /** Garbage, a bad magic, a lying length, a bad checksum, an unknown type, a HELLO cut short. */
    private static byte[] badFrame(Random random, int i) {
        ByteBuf payload = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c1", RES, "evil", java.util.List.of(), 1, Messages.Mode.STREAM, 0), payload);
        byte[] good = ByteBufUtil.getBytes(FrameCodec.encode(Unpooled.buffer().alloc(), MessageType.HELLO, payload));
        byte[] f = good.clone();
        switch (i % 6) {
            case 0 -> random.nextBytes(f);
            case 1 -> f[0] ^= 0x20;
            case 2 -> { f[8] = 0x7f; f[9] = (byte) 0xff; }
            case 3 -> f[f.length - 1] ^= 1;
            case 4 -> f[5] = (byte) 200;
            default -> {
                // a valid frame around a payload cut short: the message is malformed
                ByteBuf cut = Unpooled.wrappedBuffer(good, FrameCodec.HEADER_LENGTH, good.length - FrameCodec.HEADER_LENGTH - 5);
                f = ByteBufUtil.getBytes(FrameCodec.encode(Unpooled.buffer().alloc(), MessageType.HELLO, cut));
            }
        }
        return f;
    }

    /** A link of the resource on a node, as {@code ls -l} shows it (value@lamport.owner), or "" if absent. */
    private static String link(TernNode n, String name) throws java.io.IOException {
        Path p = n.home().resolve("resources/r0/links").resolve(name);
        return java.nio.file.Files.isSymbolicLink(p) ? java.nio.file.Files.readSymbolicLink(p).toString() : "";
    }

    /** The {@code next=} offset of a full sync's stored progress (written atomically), 0 before the first store. */
    private static long storedSyncProgress(TernNode n) throws java.io.IOException {
        Path file = n.home().resolve("resources/r0/sync.properties");
        if (!java.nio.file.Files.exists(file)) {
            return 0;
        }
        return java.nio.file.Files.readAllLines(file).stream().filter(l -> l.startsWith("next="))
                .mapToLong(l -> Long.parseLong(l.substring(5))).findFirst().orElse(0);
    }

    private static Map<String, Object> sync(TernNode n) throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) n.resource(RES).get("sync");
        return s;
    }

    /** Writes the whole device with seeded random bytes over NBD. */
    private static void fillRandom(TernNode node, long size, long seed) throws Exception {
        Random random = new Random(seed);
        try (io.tern.block.nbd.NbdClient client = io.tern.block.nbd.NbdClient.connect(node.nbdAddress(), RES)) {
            java.util.List<java.util.concurrent.CompletableFuture<Void>> writes = new java.util.ArrayList<>();
            for (long off = 0; off < size; off += 1 << 20) {
                byte[] b = new byte[1 << 20];
                random.nextBytes(b);
                writes.add(client.write(off, b, false));
            }
            for (var w : writes) {
                w.get(60, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }
}
