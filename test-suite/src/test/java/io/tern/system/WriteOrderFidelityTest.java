package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.testing.ExternalTool;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Write-order fidelity with real processes: one writer sends overlapping writes and zeroes to the
 * primary one at a time, recording each before it is sent, so the k-th write is the record at
 * LSN base + k. Many times while it runs, the secondary's replay is paused ({@code tern pause
 * replay}); when it reports a consistent disk at LSN L, its image (read with nbdcopy from its
 * read-only export) must equal the primary's image after exactly the first L records, and L
 * must never go back.
 */
class WriteOrderFidelityTest {
    private static final String RES = "r0";
    private static final int SIZE = 8 << 20;
    private static final int CHECKS = 25;

    @TempDir
    Path dir;

    /** One write of the history: bytes at an offset, or zeroes when {@code data} is null. */
    private record Write(long offset, int length, byte[] data) {
    }

    @Test
    void everyConsistentSecondaryImageIsAPrefixOfThePrimaryHistory() throws Exception {
        Random random = new Random(Seeds.seed("WriteOrderFidelityTest"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "8M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            long base = number(a.resource(RES), "logged_lsn");

            List<Write> history = java.util.Collections.synchronizedList(new ArrayList<>());
            java.util.concurrent.atomic.AtomicReference<Throwable> writerError = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread writer = new Thread(() -> {
                Random wr = new Random(random.nextLong());
                try (NbdClient client = NbdClient.connect(a.nbdAddress(), RES)) {
                    while (!stop.get()) {
                        int length = 512 * (1 + wr.nextInt(128));
                        long offset = 512L * wr.nextInt((SIZE - length) / 512 + 1);
                        if (wr.nextInt(8) == 0) {
                            history.add(new Write(offset, length, null));
                            client.writeZeroes(offset, length).get(30, TimeUnit.SECONDS);
                        } else {
                            byte[] d = new byte[length];
                            wr.nextBytes(d);
                            history.add(new Write(offset, length, d));
                            client.write(offset, d, false).get(30, TimeUnit.SECONDS);
                        }
                    }
                } catch (Throwable t) {
                    writerError.set(t);
                }
            }, "history-writer");
            writer.start();

            byte[] model = new byte[SIZE];
            int applied = 0;
            long previous = -1;
            int checks = 0;
            List<Long> points = new ArrayList<>();
            try {
                while (checks < CHECKS) {
                    int grown = history.size() + 20 + random.nextInt(200); // a random point of the workload
                    await().atMost(Duration.ofSeconds(60)).until(() -> history.size() >= grown || writerError.get() != null);
                    @SuppressWarnings("unchecked")
                    Map<String, Object> r = (Map<String, Object>) Json.parse(b.http("POST", "/resources/r0/pause-replay"));
                    try {
                        long at = number(r, "replayed_lsn");
                        if (r.get("disk").equals("Inconsistent")) {
                            continue;
                        }
                        assertThat(at).as("the consistent point never goes back").isGreaterThanOrEqualTo(previous);
                        previous = at;
                        int upTo = (int) (at - base);
                        assertThat(upTo).as("lsn %d is inside the history", at).isBetween(0, history.size());
                        for (; applied < upTo; applied++) {
                            Write w = history.get(applied);
                            if (w.data() == null) {
                                Arrays.fill(model, (int) w.offset(), (int) w.offset() + w.length(), (byte) 0);
                            } else {
                                System.arraycopy(w.data(), 0, model, (int) w.offset(), w.length());
                            }
                        }
                        byte[] image = readExport(b);
                        if (!Arrays.equals(image, model)) {
                            int i = Arrays.mismatch(image, model);
                            throw new AssertionError("at lsn " + at + " the secondary's image differs from the primary's "
                                    + "history after " + upTo + " writes, first at byte " + i);
                        }
                        checks++;
                        points.add(at);
                    } finally {
                        b.http("POST", "/resources/r0/resume-replay");
                    }
                }
            } finally {
                stop.set(true);
                writer.join(30_000);
            }
            assertThat(writerError.get()).isNull();
            assertThat(points.stream().distinct().count()).as("distinct check points %s", points).isGreaterThanOrEqualTo(10);
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);
            assertThat(number(a.resource(RES), "logged_lsn")).as("one record per write").isEqualTo(base + history.size());
            System.err.println("checked write-order fidelity at lsn " + points + " of " + base + ".." + (base + history.size()));
        }
    }

    private byte[] readExport(TernNode n) throws Exception {
        Path copy = Files.createTempFile(dir, "image-", ".img");
        try {
            String uri = "nbd://" + n.nbdAddress().getHostString() + ":" + n.nbdAddress().getPort() + "/" + RES;
            ExternalTool.run(dir, 60, "nbdcopy", uri, copy.toString()).ok();
            return Files.readAllBytes(copy);
        } finally {
            Files.delete(copy);
        }
    }
}
