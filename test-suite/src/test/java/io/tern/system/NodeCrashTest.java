package io.tern.system;

import static io.tern.harness.Replication.freePort;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * A real node under a write load over NBD is killed with SIGKILL at random (seeded) moments.
 * After every restart each durably acknowledged write reads back exactly — in {@code sync} mode
 * every acked write, in {@code flush} mode every write acked before a FLUSH that completed — and
 * every other write sent reads as all-old or all-new, never a mix.
 */
@Isolated("asks for a rate of acknowledged writes between kills")
class NodeCrashTest {
    private static final int FLUSH_EVERY = 64;
    private static final int BLOCK = 4096;
    private static final long SIZE = 64L << 20;
    private static final int SLOTS = (int) (SIZE / BLOCK);

    @TempDir
    Path dir;

    private static byte[] content(int slot) {
        byte[] b = new byte[BLOCK];
        new Random(slot * 7919L + 1).nextBytes(b);
        return b;
    }

    @ParameterizedTest(name = "durability {0}, {1} rounds")
    @CsvSource({"sync, 10", "flush, 5"})
    void noDurablyAcknowledgedWriteIsLostWhenTheNodeIsKilled(String durability, int rounds) throws Exception {
        boolean flushMode = durability.equals("flush");
        Random random = new Random(Seeds.seed("NodeCrashTest-" + durability));
        TernNode node = new TernNode(dir);
        assertThat(node.command(60, "init", "--home", dir.toString(), "--node", "a",
                "--listen", "127.0.0.1:" + freePort(), "--nbd", "127.0.0.1:" + freePort(), "--http",
                "127.0.0.1:" + freePort(), "--transport", "plain")).isZero();
        assertThat(node.command(60, "create", "r0", "--size", "64M", "--durability", durability,
                "--home", dir.toString())).isZero();

        BitSet acked = new BitSet(SLOTS); // durably acknowledged
        BitSet sent = new BitSet(SLOTS);
        int nextSlot = 0;
        try (node) {
            for (int round = 1; round <= rounds; round++) {
                node.start();
                verify(node, acked, sent, round);
                // Write fresh slots, 32 in flight, until the kill.
                NbdClient client = NbdClient.connect(node.nbdAddress(), "r0");
                Semaphore window = new Semaphore(32);
                int first = nextSlot;
                int last = Math.min(SLOTS, first + SLOTS / rounds);
                BitSet repliedSinceFlush = new BitSet(SLOTS);
                long killAfterNanos = TimeUnit.MILLISECONDS.toNanos(100 + random.nextInt(700));
                long start = System.nanoTime();
                int slot = first;
                while (slot < last && System.nanoTime() - start < killAfterNanos) {
                    if (!window.tryAcquire(5, TimeUnit.SECONDS)) {
                        throw new AssertionError("no ack for 5 s in round " + round);
                    }
                    int s = slot++;
                    sent.set(s);
                    client.write((long) s * BLOCK, content(s), false).whenComplete((v, e) -> {
                        if (e == null) {
                            synchronized (acked) {
                                (flushMode ? repliedSinceFlush : acked).set(s);
                            }
                        }
                        window.release();
                    });
                    if (flushMode && (slot - first) % FLUSH_EVERY == 0) {
                        // Everything replied before this FLUSH is sent is durable once it completes.
                        BitSet covered;
                        synchronized (acked) {
                            covered = (BitSet) repliedSinceFlush.clone();
                            repliedSinceFlush.clear();
                        }
                        client.flush().whenComplete((v, e) -> {
                            if (e == null) {
                                synchronized (acked) {
                                    acked.or(covered);
                                }
                            }
                        });
                    }
                }
                nextSlot = last;
                node.kill();
                client.close();
                System.err.printf("round %d: sent %d, acked %d so far%n", round, slot - first, acked.cardinality());
            }
            node.start();
            verify(node, acked, sent, rounds + 1);
            node.stop();
        }
        assertThat(acked.cardinality()).isGreaterThan(rounds * 50);
    }

    /** Every durably acked slot holds its content; every other slot sent holds its content or zeros. */
    private static void verify(TernNode node, BitSet acked, BitSet sent, int round) throws Exception {
        byte[] zeros = new byte[BLOCK];
        try (NbdClient client = NbdClient.connect(node.nbdAddress(), "r0")) {
            assertThat(client.size()).isEqualTo(SIZE);
            for (int s = sent.nextSetBit(0); s >= 0; s = sent.nextSetBit(s + 1)) {
                byte[] got = client.read((long) s * BLOCK, BLOCK).get(10, TimeUnit.SECONDS);
                boolean isNew = Arrays.equals(got, content(s));
                if (acked.get(s)) {
                    assertThat(isNew).as("round %d: durably acknowledged slot %d reads back", round, s).isTrue();
                } else {
                    assertThat(isNew || Arrays.equals(got, zeros))
                            .as("round %d: slot %d not durably acknowledged is all-old or all-new", round, s).isTrue();
                }
            }
        }
    }

}
