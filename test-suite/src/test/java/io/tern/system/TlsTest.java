package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.peers;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.tern.harness.TernNode;
import io.tern.harness.TlsSockets;
import io.tern.harness.Workload;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.security.Certificates;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Only members get in (DESIGN.md, contract 8): certificates made with {@code tern cert}, peers
 * refused before anything is exchanged (no certificate, another CA, expired, not a member, a
 * member speaking for another), rotation with SIGHUP and revocation by the member list, all
 * while a real pair replicates over mutual TLS.
 */
class TlsTest {
    private static final String RES = "r0";

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void onlyMembersWithACertificateOfTheClusterGetInAndTheOthersReceiveNothing() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            Path ca = dir.resolve("ca");
            assertThat(a.command(60, "cert", "ca", "--dir", ca.toString(), "--cluster", "c1")).isZero();
            for (TernNode n : List.of(a, b)) {
                tern(n, "cert", "issue", n.home().getFileName().toString(), "--ca", ca.toString(), "--replace");
            }
            assertThat(Files.getPosixFilePermissions(a.home().resolve("tls/node.key")))
                    .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                            java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
            tern(a, "cert", "members", "--set", "a,b");
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            Certificates.Issued authority = Certificates.read(ca.resolve("ca.crt"), ca.resolve("ca.key"));
            Certificates.Issued stranger = Certificates.newCa("c1", Instant.now().plus(Duration.ofDays(1)));
            Instant now = Instant.now();
            try (Workload load = new Workload(a::nbdAddress, RES, 16L << 20, Seeds.seed("TlsTest")).start()) {
                InetSocketAddress to = a.listenAddress();
                // No certificate at all: plain TCP, then TLS without a client certificate.
                try (Socket plain = new Socket(to.getAddress(), to.getPort())) {
                    plain.setSoTimeout(10_000);
                    assertThat(java.util.HexFormat.of().formatHex(answer(plain, hello("b")))).as("plain TCP gets no frame")
                            .doesNotContain(String.format("%08x", FrameCodec.MAGIC));
                }
                assertRefused(TlsSockets.connect(null, authority.certificate(), to), "no client certificate");
                // Another CA (naming a member), an expired certificate of the right CA, a non-member.
                assertRefused(TlsSockets.connect(Certificates.issue(stranger, "c1", "b", now.minusSeconds(60),
                        now.plus(Duration.ofDays(1))), authority.certificate(), to), "another CA");
                assertRefused(TlsSockets.connect(Certificates.issue(authority, "c1", "b", now.minus(Duration.ofDays(2)),
                        now.minus(Duration.ofDays(1))), authority.certificate(), to), "expired");
                assertRefused(TlsSockets.connect(Certificates.issue(authority, "c1", "x", now.minusSeconds(60),
                        now.plus(Duration.ofDays(1))), authority.certificate(), to), "not a member");
                // A member that claims another member's name: its HELLO gets a REJECT, nothing else.
                try (Socket s = TlsSockets.as(b.home(), to)) {
                    ByteBuf back = Unpooled.wrappedBuffer(answer(s, hello("a")));
                    assertThat(back.getInt(0)).isEqualTo(FrameCodec.MAGIC);
                    assertThat(back.getUnsignedByte(5)).as("message type").isEqualTo((short) MessageType.REJECT.code());
                    int length = back.getInt(8);
                    assertThat(back.readableBytes()).as("a REJECT and nothing after it")
                            .isEqualTo(FrameCodec.HEADER_LENGTH + length);
                    assertThat(Messages.decodeReject(back.slice(FrameCodec.HEADER_LENGTH, length)).code())
                            .isEqualTo(ErrorCode.IDENTITY);
                }
                load.awaitMore(300, 60);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
            try (var links = Files.list(a.home().resolve("resources/r0/links"))) {
                assertThat(links.map(p -> p.getFileName().toString())).as("links of a")
                        .noneMatch(n -> n.endsWith("-x") || n.contains("-x-"));
            }
            assertThat(Files.readString(a.logs().resolve("daemon-1.err"))).contains("tls: refused")
                    .contains("node x is not a member");
        }
    }

    @Test
    void aRotatedCertificateIsTakenWithoutDowntimeAndARemovedMemberIsCutOff() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1"); TernNode c = init(dir, "c", "c1")) {
            Path ca = dir.resolve("ca");
            assertThat(a.command(60, "cert", "ca", "--dir", ca.toString(), "--cluster", "c1")).isZero();
            for (TernNode n : List.of(a, b, c)) {
                tern(n, "cert", "issue", n.home().getFileName().toString(), "--ca", ca.toString(), "--replace");
            }
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            c.start();
            tern(c, "join", RES, "--peer", a.peer());
            tern(a, "cert", "members", "--set", "a,b,c");
            try (Workload load = new Workload(a::nbdAddress, RES, 16L << 20, Seeds.seed("TlsTest-rotate")).start()) {
                awaitReplaying(a, b, c);
                // Rotation: a new certificate for b, taken on SIGHUP; b's open session goes on.
                tern(b, "cert", "issue", "b", "--ca", ca.toString(), "--replace", "--days", "30");
                Instant newEnd = Certificates.readCertificate(b.home().resolve("tls/node.crt")).getNotAfter().toInstant();
                assertThat(new ProcessBuilder("kill", "-HUP", Long.toString(b.pid())).start().waitFor()).isZero();
                await("b reloads on SIGHUP").atMost(Duration.ofSeconds(10))
                        .until(() -> Files.readString(b.logs().resolve("daemon-1.err")).contains("SIGHUP: reloaded"));
                awaitReplaying(a, b);
                assertThat(Files.readString(b.logs().resolve("daemon-1.err"))).as("b's session went on")
                        .doesNotContain("connection to " + a.peer() + " lost");
                // Its next session is made with the new certificate.
                tern(b, "pause", "fetch", RES);
                tern(b, "resume", "fetch", RES);
                await("b's new session shows its new certificate to a").atMost(Duration.ofSeconds(30))
                        .until(() -> Files.readString(a.logs().resolve("daemon-1.err"))
                                .contains("tls: b verified (certificate valid until " + newEnd + ")"));
                awaitReplaying(a, b);
                assertThat(b.command(60, "cert", "show", "--home", b.home().toString())).isZero();
                assertThat(Files.readString(b.logs().resolve("command.out"))).contains("to " + newEnd);

                // Revocation: c leaves a's members; a closes c's sessions and refuses it from then on.
                tern(a, "cert", "members", "--remove", "c");
                await("a cuts c off").atMost(Duration.ofSeconds(30)).until(() -> !connected(a, "c"));
                long cut = number(c.resource(RES), "logged_lsn");
                awaitReplaying(a, b);
                load.awaitMore(300, 60);
                awaitReplaying(a, b);
                assertThat(connected(a, "c")).as("c reconnects to a").isFalse();
                assertThat(number(c.resource(RES), "logged_lsn")).as("c receives nothing new").isEqualTo(cut);
                assertThat(Files.readString(a.logs().resolve("daemon-1.err"))).contains("node c is not a member");
                // Taken back, it catches up.
                tern(a, "cert", "members", "--add", "c");
                awaitReplaying(a, c);
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(90), b, c);
            String want = exportDigest(a, RES, dir);
            assertThat(exportDigest(b, RES, dir)).isEqualTo(want);
            assertThat(exportDigest(c, RES, dir)).isEqualTo(want);
        }
    }

    /** Waits until each secondary has replayed past what the primary had logged when this was called. */
    private static void awaitReplaying(TernNode primary, TernNode... secondaries) throws Exception {
        long logged = number(primary.resource(RES), "logged_lsn");
        for (TernNode s : secondaries) {
            await(s.home().getFileName() + " replays past lsn " + logged).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(200)).until(() -> number(s.resource(RES), "replayed_lsn") > logged);
        }
    }

    /** Whether {@code node} shows {@code peer} connected in its status of r0. */
    private static boolean connected(TernNode node, String peer) throws Exception {
        for (Map<String, Object> p : peers(node.resource(RES))) {
            if (peer.equals(p.get("node"))) {
                return Boolean.TRUE.equals(p.get("connected"));
            }
        }
        return false;
    }

    /**
     * A refused TLS peer: its handshake fails, or the node closes the connection as soon as it is
     * done; in no case does a byte of the protocol come back to its HELLO.
     */
    private static void assertRefused(Socket s, String what) throws IOException {
        try (s) {
            byte[] back;
            try {
                back = answer(s, hello("b"));
            } catch (javax.net.ssl.SSLException | java.net.SocketException e) {
                return; // the handshake was refused
            }
            assertThat(back).as("what a peer with %s received", what).isEmpty();
        }
    }

    /** Writes {@code bytes} and reads until the peer closes (or 10 s pass without a byte). */
    private static byte[] answer(Socket s, byte[] bytes) throws IOException {
        s.getOutputStream().write(bytes);
        s.getOutputStream().flush();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                got.write(buf, 0, n);
            }
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("the node neither answered nor closed within 10 s; got " + got.size() + " bytes");
        }
        return got.toByteArray();
    }

    /** A STREAM HELLO for r0 in cluster c1 from {@code node}. */
    private static byte[] hello(String node) {
        ByteBuf payload = Unpooled.buffer();
        Messages.encode(new Messages.Hello("c1", RES, node, List.of(), 1, Messages.Mode.STREAM, 0), payload);
        return ByteBufUtil.getBytes(FrameCodec.encode(Unpooled.buffer().alloc(), MessageType.HELLO, payload));
    }

}
