package io.tern.nemesis;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;

/**
 * Write-order fidelity on a secondary whose replay is paused: its image must be the primary's
 * image after exactly the first {@code replayed_lsn - base} writes of a {@link SerialWriter} that
 * started at a quiet point (every node at LSN {@code base}, image {@code baseline}). Blocks are
 * compared by the write they hold (a block of a {@link BlockHistory} write names its write and its
 * own number in its first 16 bytes); a block of a write sent in the step is also compared byte by
 * byte with that write, so a torn block shows.
 */
final class PrefixCheck {
    private static final int BLOCK = BlockHistory.BLOCK;
    /** A block that holds bytes of no write: never equal to any state. */
    private static final long GARBAGE = -2;

    private final long base;
    private final long[] baseline;
    private int lastPrefix = -1;

    /** {@code primary}: a client of the primary at the quiet point, its LSN {@code base}. */
    PrefixCheck(NbdClient primary, long base) throws Exception {
        this.base = base;
        this.baseline = ids(read(primary));
    }

    /**
     * Checks the paused secondary's image at {@code replayed}: returns the prefix length it
     * equals, or throws an AssertionError naming the first block that differs and, if there is
     * one, the prefix it does equal.
     */
    int check(String who, NbdClient secondary, long replayed, List<BlockHistory.Write> sent, BlockHistory history)
            throws Exception {
        byte[] image = read(secondary);
        long[] ids = ids(image);
        int expected = (int) (replayed - base);
        if (expected < 0 || expected > sent.size()) {
            throw new AssertionError(who + " reports a consistent disk at lsn " + replayed + ", outside the "
                    + sent.size() + " writes sent since lsn " + base);
        }
        if (expected < lastPrefix) {
            throw new AssertionError(who + ": the consistent point went back from " + (base + lastPrefix) + " to "
                    + replayed);
        }
        Map<Long, BlockHistory.Write> byId = new HashMap<>();
        sent.forEach(w -> byId.put(w.id(), w));
        for (int b = 0; b < ids.length; b++) {
            BlockHistory.Write w = byId.get(ids[b]);
            if (w != null) {
                int i = (int) (b - w.offset() / BLOCK);
                byte[] content = history.content(w);
                if (Arrays.mismatch(image, b * BLOCK, (b + 1) * BLOCK, content, i * BLOCK, (i + 1) * BLOCK) >= 0) {
                    throw new AssertionError(who + ": block " + b + " holds a torn copy of " + w);
                }
            }
        }
        long[] state = baseline.clone();
        for (int k = 0; k < expected; k++) {
            apply(state, sent.get(k));
        }
        int diff = firstDifference(state, ids);
        if (diff >= 0) {
            int other = anyPrefix(ids, sent);
            throw new AssertionError(who + " at lsn " + replayed + ": block " + diff + " holds " + describe(ids[diff], byId)
                    + " but the primary's image after the first " + expected + " writes since lsn " + base + " holds "
                    + describe(state[diff], byId) + (other >= 0 ? "; the image is the prefix of " + other + " writes instead"
                    : "; the image is no prefix of the " + sent.size() + " writes sent"));
        }
        lastPrefix = expected;
        return expected;
    }

    private int anyPrefix(long[] ids, List<BlockHistory.Write> sent) {
        long[] state = baseline.clone();
        for (int k = 0; ; k++) {
            if (firstDifference(state, ids) < 0) {
                return k;
            }
            if (k == sent.size()) {
                return -1;
            }
            apply(state, sent.get(k));
        }
    }

    private static void apply(long[] state, BlockHistory.Write w) {
        int first = (int) (w.offset() / BLOCK);
        Arrays.fill(state, first, first + w.length() / BLOCK, w.zeroes() ? 0 : w.id());
    }

    private static int firstDifference(long[] a, long[] b) {
        return Arrays.mismatch(a, b);
    }

    private static String describe(long id, Map<Long, BlockHistory.Write> byId) {
        if (id == 0) {
            return "zeros";
        }
        if (id == GARBAGE) {
            return "bytes of no write";
        }
        BlockHistory.Write w = byId.get(id);
        return w != null ? w.toString() : "write #" + id + " (from before the step)";
    }

    /** The write each block names (0 for zeros, {@link #GARBAGE} for bytes of no write). */
    private static long[] ids(byte[] image) {
        long[] ids = new long[image.length / BLOCK];
        ByteBuffer buf = ByteBuffer.wrap(image);
        for (int b = 0; b < ids.length; b++) {
            long id = buf.getLong(b * BLOCK);
            long block = buf.getLong(b * BLOCK + 8);
            if (id > 0 && block == b) {
                ids[b] = id;
            } else {
                ids[b] = isZero(image, b * BLOCK) ? 0 : GARBAGE;
            }
        }
        return ids;
    }

    private static boolean isZero(byte[] data, int at) {
        for (int i = at; i < at + BLOCK; i++) {
            if (data[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static byte[] read(NbdClient c) throws Exception {
        long size = c.size();
        byte[] image = new byte[(int) size];
        int chunk = 1 << 20;
        List<CompletableFuture<byte[]>> reads = new java.util.ArrayList<>();
        for (long at = 0; at < size; at += chunk) {
            reads.add(c.read(at, (int) Math.min(chunk, size - at)));
        }
        for (int i = 0; i < reads.size(); i++) {
            byte[] d = reads.get(i).get(60, TimeUnit.SECONDS);
            System.arraycopy(d, 0, image, i * chunk, d.length);
        }
        return image;
    }
}
