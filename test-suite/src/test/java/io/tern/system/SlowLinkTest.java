package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.proxy.FaultProxy;
import io.tern.replication.protocol.Keepalive;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A secondary behind a 64 KiB/s link: one 2 MiB write makes a frame that takes about 32 s to
 * arrive, three times {@link Keepalive#DEAD_SECONDS}. The bytes trickling in count as hearing
 * the primary, so the connection is kept, the frame arrives whole and is replayed, and neither
 * side gives up on the other.
 */
class SlowLinkTest {
    private static final String RES = "r0";
    private static final int WRITE = 2 << 20;
    private static final long OFFSET = 3L << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void aFrameSlowerThanTheKeepaliveArrivesWholeAndIsReplayed() throws Exception {
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            try (FaultProxy proxy = new FaultProxy(new InetSocketAddress("127.0.0.1", 0), a.listenAddress(),
                    Seeds.seed("SlowLinkTest-proxy"))) {
                b.start();
                tern(b, "join", RES, "--peer", "127.0.0.1:" + proxy.address().getPort());
                awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

                proxy.bandwidth(64 << 10);
                byte[] data = new byte[WRITE];
                new Random(Seeds.seed("SlowLinkTest")).nextBytes(data);
                try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                    client.write(OFFSET, data, false).get(10, TimeUnit.SECONDS);
                }
                // 32 s on the wire; a dropped and resent frame would never make it.
                awaitCaughtUp(a, RES, Duration.ofSeconds(90), b);
                try (NbdClient client = NbdClient.connect(b.nbdAddress(), RES)) {
                    assertThat(client.read(OFFSET, WRITE).get(30, TimeUnit.SECONDS))
                            .as("the secondary's bytes where the primary wrote").isEqualTo(data);
                }
                assertThat(Files.readString(b.home().resolve("daemon-1.err"))).doesNotContain("nothing heard from");
                assertThat(Files.readString(a.home().resolve("daemon-1.err"))).doesNotContain("nothing heard from");
            }
        }
    }
}
