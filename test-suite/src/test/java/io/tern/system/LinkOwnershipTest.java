package io.tern.system;

import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.DataInputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.tern.harness.TernNode;
import io.tern.links.Link;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Links are taken only from the node that owns them (the last part of their name), on that
 * node's own mesh session: a peer "c" speaking the protocol by hand gets its own link stored and
 * its links about b refused and counted, while the node goes on serving.
 */
class LinkOwnershipTest {
    private static final String RES = "r0";

    @TempDir
    Path dir;

    @Test
    void aLinkAboutAnotherNodeIsRefusedAndCounted() throws Exception {
        try (TernNode a = init(dir, "a", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "8M");
            // c is a member with a certificate of the cluster, speaking for itself (as its HELLO must).
            Path c = Files.createDirectories(dir.resolve("c"));
            io.tern.harness.Replication.issueCertificate(c, "c", "c1");
            try (Socket s = io.tern.harness.TlsSockets.as(c, a.listenAddress())) {
                send(s, MessageType.HELLO, b -> Messages.encode(new Messages.Hello("c1", RES, "c", List.of(), 0,
                        Messages.Mode.LINKS, 0), b));
                DataInputStream in = new DataInputStream(s.getInputStream());
                assertThat(readType(in)).as("answer to a mesh HELLO").isEqualTo(MessageType.WELCOME.code());
                send(s, MessageType.STATE, b -> Messages.encode(new Messages.State("c", Messages.Role.SECONDARY, 0,
                        List.of()), b));
                send(s, MessageType.LINKS, b -> Messages.encodeLinks(List.of(
                        new Link("replay-c", "1,7", 50, "c", false),     // c's own: taken
                        new Link("replay-b", "1,999", 51, "b", false),   // about b, relayed by c: refused
                        new Link("address-b", "10.0.0.1:1", 52, "c", false)), b)); // about b, written by c: refused
                await().atMost(Duration.ofSeconds(10)).until(() -> Files.isSymbolicLink(link(a, "replay-c")));
            }
            assertThat(Files.exists(link(a, "replay-b"), java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
            assertThat(Files.exists(link(a, "address-b"), java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
            String metrics = a.http("GET", "/metrics");
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^tern_replication_links_refused_total (\\S+)")
                    .matcher(metrics);
            assertThat(m.find()).as("links refused counter in /metrics").isTrue();
            assertThat(Double.parseDouble(m.group(1))).isEqualTo(2.0);
            assertThat(a.resource(RES).get("disk")).isEqualTo("UpToDate");
        }
    }

    private static Path link(TernNode n, String name) {
        return n.home().resolve("resources/" + RES + "/links").resolve(name);
    }

    private static void send(Socket s, MessageType type, java.util.function.Consumer<ByteBuf> body) throws Exception {
        ByteBuf payload = Unpooled.buffer();
        body.accept(payload);
        s.getOutputStream().write(ByteBufUtil.getBytes(FrameCodec.encode(Unpooled.buffer().alloc(), type, payload)));
        s.getOutputStream().flush();
    }

    /** Reads one frame and returns its message type. */
    private static int readType(DataInputStream in) throws Exception {
        byte[] header = new byte[FrameCodec.HEADER_LENGTH];
        in.readFully(header);
        ByteBuf h = Unpooled.wrappedBuffer(header);
        assertThat(h.getInt(0)).isEqualTo(FrameCodec.MAGIC);
        in.readFully(new byte[h.getInt(8)]);
        return h.getUnsignedByte(5);
    }
}
