package io.tern.cli;

import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.tern.block.nbd.NbdClient;

/**
 * Reads the primary's and the secondary's exports side by side over NBD, a chunk at a time with a
 * few chunks in flight, and checks every block twice: against the {@link DemoModel} on the
 * primary (every acknowledged write is there) and against the secondary (the images are equal).
 * Each image's SHA-256 is taken on the way.
 */
final class DemoImages {
    private static final int CHUNK = 1 << 20;
    private static final int IN_FLIGHT = 4;
    private static final int LISTED = 5;

    private DemoImages() {
    }

    /** What one comparison found. */
    record Report(int blocks, List<Integer> missing, int missingCount, List<Integer> differing, int differingCount,
                  String primaryDigest, String secondaryDigest, byte[] imageRegion) {
        boolean ok() {
            return missingCount == 0 && differingCount == 0 && primaryDigest.equals(secondaryDigest);
        }
    }

    /**
     * Compares both exports of {@code size} bytes. {@code keep} bytes from the start of the
     * primary's export are returned in the report (the file-system image, for e2fsck).
     */
    static Report compare(InetSocketAddress primary, InetSocketAddress secondary, long size, DemoModel model, int keep)
            throws Exception {
        MessageDigest dp = sha256();
        MessageDigest ds = sha256();
        List<Integer> missing = new ArrayList<>();
        List<Integer> differing = new ArrayList<>();
        int missingCount = 0;
        int differingCount = 0;
        byte[] region = new byte[keep];
        try (NbdClient p = NbdClient.connect(primary, DemoCommand.RES);
             NbdClient s = NbdClient.connect(secondary, DemoCommand.RES)) {
            ArrayDeque<Pending> queue = new ArrayDeque<>();
            long next = 0;
            while (next < size || !queue.isEmpty()) {
                while (queue.size() < IN_FLIGHT && next < size) {
                    int length = (int) Math.min(CHUNK, size - next);
                    queue.add(new Pending(next, p.read(next, length), s.read(next, length)));
                    next += length;
                }
                Pending c = queue.poll();
                byte[] a = get(c.primary, "the primary", c.offset);
                byte[] b = get(c.secondary, "the secondary", c.offset);
                dp.update(a);
                ds.update(b);
                if (c.offset < keep) {
                    System.arraycopy(a, 0, region, (int) c.offset, (int) Math.min(a.length, keep - c.offset));
                }
                for (int off = 0; off < a.length; off += DemoModel.BLOCK) {
                    int block = (int) ((c.offset + off) / DemoModel.BLOCK);
                    if (!model.holds(block, a, off)) {
                        missingCount++;
                        if (missing.size() < LISTED) {
                            missing.add(block);
                        }
                    }
                    if (!Arrays.equals(a, off, off + DemoModel.BLOCK, b, off, off + DemoModel.BLOCK)) {
                        differingCount++;
                        if (differing.size() < LISTED) {
                            differing.add(block);
                        }
                    }
                }
            }
        }
        return new Report((int) (size / DemoModel.BLOCK), missing, missingCount, differing, differingCount,
                HexFormat.of().formatHex(dp.digest()), HexFormat.of().formatHex(ds.digest()), region);
    }

    private record Pending(long offset, CompletableFuture<byte[]> primary, CompletableFuture<byte[]> secondary) {
    }

    private static byte[] get(CompletableFuture<byte[]> read, String which, long offset) throws InterruptedException {
        try {
            return read.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new DemoFailure("reading " + which + "'s export at offset " + offset + " failed: " + cause);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
