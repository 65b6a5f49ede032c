package io.tern.system;

import static io.tern.harness.Replication.freePort;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tens of thousands of seeded malformed and mutated handshakes and requests against a real node,
 * while a well-behaved client on another connection (and another resource) writes and verifies
 * throughout. The node must stay up, the good client must never see an error. One case in
 * twelve has a connection of its own (garbage, a mutated handshake, mutated or oversized
 * requests, then a half-close); the others share connections ({@link NbdSessionFuzzer}): mutated
 * options, each answered, then pipelined requests, each answered once under its handle, then a
 * hostile end. {@code -Dtern.fuzz.nbd.cases=N} sets the number (default {@link #DEFAULT_CASES});
 * {@code -Dtern.seed=N} the seed.
 */
class NbdFuzzTest {
    static final long DEFAULT_CASES = 40_000;

    @TempDir
    Path dir;

    @Test
    void malformedInputClosesOnlyItsOwnConnection() throws Exception {
        long seed = Seeds.seed("NbdFuzzTest");
        Random random = new Random(seed);
        long cases = Long.getLong("tern.fuzz.nbd.cases", DEFAULT_CASES);
        long connectionCases = Math.max(1, cases / 12);
        TernNode node = new TernNode(dir);
        assertThat(node.command(60, "init", "--home", dir.toString(), "--node", "a",
                "--listen", "127.0.0.1:" + freePort(), "--nbd", "127.0.0.1:" + freePort(), "--http",
                "127.0.0.1:" + freePort(), "--transport", "plain")).isZero();
        assertThat(node.command(60, "create", "fuzz", "--size", "16M", "--home", dir.toString())).isZero();
        assertThat(node.command(60, "create", "good", "--size", "16M", "--home", dir.toString())).isZero();
        try (node) {
            node.start();
            AtomicLong goodOps = new AtomicLong();
            AtomicReference<Throwable> goodError = new AtomicReference<>();
            Thread good = new Thread(() -> goodClient(node, goodOps, goodError), "good-client");
            good.start();
            long started = System.nanoTime();
            int[] kinds = new int[4];
            for (long i = 0; i < connectionCases; i++) {
                int kind = random.nextInt(4);
                kinds[kind]++;
                fuzzOnce(node, random, kind);
                if (i % 100 == 0) {
                    assertThat(node.isAlive()).as("node alive after case %d", i).isTrue();
                }
            }
            NbdSessionFuzzer sessions = new NbdSessionFuzzer(new Random(seed + 1), node.nbdAddress(), "fuzz", 16L << 20);
            while (sessions.cases() < cases - connectionCases) {
                try {
                    sessions.session();
                } catch (IOException | AssertionError e) {
                    throw new AssertionError("NBD session " + sessions.counts().connections + " of seed " + seed
                            + " (replay with -Dtern.seed=" + seed + "): " + e.getMessage(), e);
                }
                if (sessions.counts().connections % 100 == 0) {
                    assertThat(node.isAlive()).as("node alive after session %d", sessions.counts().connections).isTrue();
                }
            }
            long fuzzNanos = System.nanoTime() - started;
            assertThat(node.isAlive()).as("node alive after the fuzzing").isTrue();
            good.interrupt();
            good.join(30_000);
            assertThat(goodError.get()).as("the good client's error").isNull();
            assertThat(goodOps.get()).as("verified writes by the good client during the fuzzing").isGreaterThan(100);
            try (NbdClient after = NbdClient.connect(node.nbdAddress(), "fuzz")) {
                after.write(0, new byte[4096], true).get(10, TimeUnit.SECONDS);
            }
            NbdSessionFuzzer.Counts c = sessions.counts();
            long total = connectionCases + sessions.cases();
            System.err.printf("fuzz: nbd %d cases in %.1f s (seed %d): %d with a connection each (garbage %d, mutated "
                    + "handshakes %d, mutated requests %d, oversized %d), %d on %d shared connections (options %d, "
                    + "requests %d, hostile ends %d; %d error replies); good client verified %d writes%n", total,
                    fuzzNanos / 1e9, seed, connectionCases, kinds[0], kinds[1], kinds[2], kinds[3], sessions.cases(),
                    c.connections, c.options, c.requests, c.hostileEnds, c.errorReplies, goodOps.get());
            assertThat(total).isGreaterThanOrEqualTo(cases);
            assertThat(c.errorReplies).as("requests the server refused with an error, connection kept").isPositive();
            node.stop();
        }
    }

    private static void goodClient(TernNode node, AtomicLong ops, AtomicReference<Throwable> error) {
        Random r = new Random(1);
        try (NbdClient c = NbdClient.connect(node.nbdAddress(), "good")) {
            while (!Thread.currentThread().isInterrupted()) {
                byte[] data = new byte[4096];
                r.nextBytes(data);
                long offset = 4096L * r.nextInt(4096);
                c.write(offset, data, false).get(10, TimeUnit.SECONDS);
                byte[] back = c.read(offset, 4096).get(10, TimeUnit.SECONDS);
                if (!Arrays.equals(back, data)) {
                    throw new AssertionError("good client read back different data at " + offset);
                }
                ops.incrementAndGet();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            if (!(t.getCause() instanceof InterruptedException)) {
                error.set(t);
            }
        }
    }

    /** One connection: send something bad, half-close, read whatever comes back until the server closes. */
    private static void fuzzOnce(TernNode node, Random random, int kind) throws IOException {
        byte[] payload = switch (kind) {
            case 0 -> garbage(random);
            case 1 -> mutate(random, handshake("fuzz"));
            case 2 -> concat(handshake("fuzz"), mutate(random, requests(random)));
            default -> concat(handshake("fuzz"), oversized(random));
        };
        try (Socket s = new Socket()) {
            s.connect(node.nbdAddress(), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            try {
                out.write(payload);
                out.flush();
                s.shutdownOutput();
                byte[] sink = new byte[65536];
                while (in.read(sink) >= 0) {
                    // drain until the server closes
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError("server neither answered nor closed within 5 s (kind " + kind + ")", e);
            } catch (IOException e) {
                // reset by the server: an acceptable way to refuse
            }
        }
    }

    private static byte[] garbage(Random r) {
        byte[] b = new byte[1 + r.nextInt(300)];
        r.nextBytes(b);
        return b;
    }

    private static byte[] handshake(String export) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(bytes);
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            o.writeInt(3);
            o.writeLong(0x49484156454F5054L);
            o.writeInt(8); // STRUCTURED_REPLY
            o.writeInt(0);
            o.writeLong(0x49484156454F5054L);
            o.writeInt(7); // GO
            o.writeInt(4 + name.length + 2 + 2);
            o.writeInt(name.length);
            o.write(name);
            o.writeShort(1);
            o.writeShort(3);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** A few plausible requests: reads, writes, flushes, trims, zeroes, some past the end. */
    private static byte[] requests(Random r) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(bytes);
            for (int i = 0, n = 1 + r.nextInt(6); i < n; i++) {
                int type = r.nextInt(9);
                int length = r.nextBoolean() ? 512 * r.nextInt(16) : r.nextInt(1 << 16);
                long offset = r.nextBoolean() ? 512L * r.nextInt(40000) : r.nextLong();
                o.writeInt(0x25609513);
                o.writeShort(r.nextInt(4) == 0 ? r.nextInt(1 << 16) : r.nextInt(2));
                o.writeShort(type);
                o.writeLong(r.nextLong());
                o.writeLong(offset);
                o.writeInt(length);
                if (type == 1) {
                    byte[] data = new byte[length];
                    r.nextBytes(data);
                    o.write(data);
                }
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** A WRITE claiming far more data than the maximum, followed by some of it. */
    private static byte[] oversized(Random r) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(bytes);
            o.writeInt(0x25609513);
            o.writeShort(0);
            o.writeShort(1);
            o.writeLong(42);
            o.writeLong(0);
            o.writeInt(r.nextBoolean() ? -1 : (33 << 20) + r.nextInt(1 << 20));
            o.write(new byte[r.nextInt(1 << 16)]);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Flips, inserts, deletes or truncates a few bytes. */
    private static byte[] mutate(Random r, byte[] in) {
        byte[] b = in.clone();
        for (int i = 0, n = 1 + r.nextInt(4); i < n && b.length > 0; i++) {
            switch (r.nextInt(4)) {
                case 0 -> b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                case 2 -> b = Arrays.copyOf(b, r.nextInt(b.length) + 1);
                default -> {
                    int at = r.nextInt(b.length);
                    byte[] c = new byte[b.length + 4];
                    System.arraycopy(b, 0, c, 0, at);
                    c[at] = (byte) 0xFF;
                    c[at + 1] = (byte) 0xFF;
                    c[at + 2] = (byte) 0xFF;
                    c[at + 3] = (byte) 0xFF;
                    System.arraycopy(b, at, c, at + 4, b.length - at);
                    b = c;
                }
            }
        }
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
