package io.tern.harness;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import io.tern.block.nbd.NbdClient;

/**
 * What a device must hold after a crash, 4 KiB block by block, for writers that never have two
 * writes to one block in flight at once (see {@link #claim}): so the writes to a block form a
 * sequence, and after a crash the block holds its <em>settled</em> write (the last one
 * acknowledged, or the one an earlier {@link #verify} found there) or the one write sent to it
 * since and never answered. A write never answered holds all of its blocks or none of them.
 *
 * <p>Every block of a data write carries the write's id and its own block number in its first 16
 * bytes and bytes derived from both after them, so a block read back names the write it came
 * from and a mix of two writes inside a block shows. Write-zeroes leave zeros, like a block never
 * written.
 *
 * <p>Thread-safe: writers claim and answer writes from any thread; {@link #verify} runs while no
 * write is in flight (the node that served them is gone).
 */
public final class BlockHistory {
    public static final int BLOCK = 4096;
    private static final long NONE = -1;
    /** Id of the zeros a never-written block holds. */
    private static final long ZEROS = 0;

    /** A write sent by a test: ids are dense from 1. */
    public static final class Write {
        private final long id;
        private final int firstBlock;
        private final int blocks;
        private final boolean zeroes;
        private final int round;
        private volatile Outcome outcome = Outcome.SENT;
        private volatile String detail = "";

        Write(long id, int firstBlock, int blocks, boolean zeroes, int round) {
            this.id = id;
            this.firstBlock = firstBlock;
            this.blocks = blocks;
            this.zeroes = zeroes;
            this.round = round;
        }

        public long id() {
            return id;
        }

        public long offset() {
            return (long) firstBlock * BLOCK;
        }

        public int length() {
            return blocks * BLOCK;
        }

        /** Whether the node acknowledged it. */
        public boolean acknowledged() {
            return outcome == Outcome.ACKNOWLEDGED;
        }

        public boolean zeroes() {
            return zeroes;
        }

        @Override
        public String toString() {
            return "write #" + id + " (" + (zeroes ? "zeroes" : "data") + " at " + offset() + ", " + length()
                    + " bytes, round " + round + ", " + outcome.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                    + detail + ")";
        }
    }

    /** What became of a write. */
    enum Outcome {
        SENT, ACKNOWLEDGED, REFUSED, UNANSWERED, UNANSWERED_APPLIED, UNANSWERED_LOST
    }

    /** What one {@link #verify} found. */
    public record Check(int blocks, int unanswered, int unansweredApplied, long ackedTotal) {
        @Override
        public String toString() {
            return blocks + " blocks hold what was acknowledged; writes never answered: " + unanswered + " ("
                    + unansweredApplied + " applied whole, the rest not at all)";
        }
    }

    private final long seed;
    private final int blockCount;
    private final long[] settled;
    private final long[] unanswered;
    private final BitSet busy;
    private final List<Write> writes = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private long acked;
    /** Writes before this index were resolved by an earlier {@link #verify}. */
    private int verified;

    public BlockHistory(long deviceSize, long seed) {
        if (deviceSize % BLOCK != 0) {
            throw new IllegalArgumentException("device size " + deviceSize + " is not a multiple of " + BLOCK);
        }
        this.seed = seed;
        this.blockCount = (int) (deviceSize / BLOCK);
        this.settled = new long[blockCount];
        this.unanswered = new long[blockCount];
        Arrays.fill(unanswered, NONE);
        this.busy = new BitSet(blockCount);
    }

    /**
     * Claims a new write of {@code blocks} blocks at a random place no write in flight touches, or
     * returns null when the place drawn is taken (draw again). Its blocks stay claimed until it is
     * answered, or until the next {@link #verify} when it never is.
     */
    public synchronized Write claim(Random random, int blocks, boolean zeroes, int round) {
        int first = random.nextInt(blockCount - blocks + 1);
        if (busy.nextSetBit(first) >= 0 && busy.nextSetBit(first) < first + blocks) {
            return null;
        }
        Write w = new Write(writes.size() + 1L, first, blocks, zeroes, round);
        writes.add(w);
        busy.set(first, first + blocks);
        for (int b = first; b < first + blocks; b++) {
            unanswered[b] = w.id;
        }
        return w;
    }

    /** The bytes of a data write, as {@link #verify} expects them back. */
    public byte[] content(Write w) {
        byte[] data = new byte[w.length()];
        for (int i = 0; i < w.blocks; i++) {
            fill(w.id, w.firstBlock + i, data, i * BLOCK);
        }
        return data;
    }

    /**
     * Records the node's answer: success settles the write; an error answer (the node refused a
     * valid write) is kept as a failure for {@link #errors()}; a lost connection leaves it
     * unanswered: it may or may not have been applied.
     */
    public synchronized void answered(Write w, Throwable failure) {
        if (w.outcome != Outcome.SENT) {
            errors.add(w + " answered again, or after the check that resolved it"
                    + (failure == null ? "" : ": " + failure));
            return;
        }
        if (failure == null) {
            w.outcome = Outcome.ACKNOWLEDGED;
            acked++;
            for (int b = w.firstBlock; b < w.firstBlock + w.blocks; b++) {
                settled[b] = w.id;
                unanswered[b] = NONE;
            }
            busy.clear(w.firstBlock, w.firstBlock + w.blocks);
            return;
        }
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof NbdClient.NbdError e) {
            w.outcome = Outcome.REFUSED;
            w.detail = " with errno " + e.errno();
            errors.add(w.toString());
        } else {
            w.outcome = Outcome.UNANSWERED;
            w.detail = " (" + cause.getMessage() + ")";
        }
    }

    /** Writes acknowledged so far. */
    public synchronized long acked() {
        return acked;
    }

    /** Writes sent so far. */
    public synchronized long sent() {
        return writes.size();
    }

    /** Writes the node answered with an error; there must be none. */
    public synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    /**
     * Reads the whole device and checks every block against the history; then settles each block
     * on what it holds, and forgets the writes never answered. Call it after the node that served
     * the writes restarted: what it serves then is what it recovered.
     *
     * @throws AssertionError naming the first block that holds something it must not, and why
     */
    public synchronized Check verify(NbdClient client, String when) throws Exception {
        if (client.size() != (long) blockCount * BLOCK) {
            throw new AssertionError(when + ": the export holds " + client.size() + " bytes, not "
                    + (long) blockCount * BLOCK);
        }
        long[] found = ExportBlocks.identify(client, blockCount, (d, at, b, scratch) -> identify(d, at, b, scratch, when));
        // Each block holds its settled write or its unanswered one.
        long[] newState = new long[blockCount];
        int[] appliedBlocks = new int[writes.size() + 1];
        int[] keptBlocks = new int[writes.size() + 1];
        for (int b = 0; b < blockCount; b++) {
            long settledId = settled[b];
            long pending = unanswered[b];
            long got = found[b];
            boolean settledMatches = got == ZEROS ? holdsZeros(settledId) : got == settledId;
            boolean pendingMatches = pending != NONE && (got == ZEROS ? holdsZeros(pending) : got == pending);
            if (!settledMatches && !pendingMatches) {
                throw new AssertionError(when + ": block " + b + " (offset " + (long) b * BLOCK + ") holds "
                        + describe(got) + ", but its last acknowledged content is " + describe(settledId)
                        + (pending == NONE ? "" : " and the only write to it since is " + describe(pending)));
            }
            if (pending != NONE && !(settledMatches && pendingMatches)) {
                (pendingMatches ? appliedBlocks : keptBlocks)[(int) pending]++;
            }
            newState[b] = pendingMatches ? pending : settledId;
        }
        // A write never answered (SENT: its answer was lost with the connection) is applied whole
        // or not at all.
        int unansweredWrites = 0;
        int applied = 0;
        for (Write w : writes.subList(verified, writes.size())) {
            if (w.outcome != Outcome.UNANSWERED && w.outcome != Outcome.SENT) {
                continue;
            }
            unansweredWrites++;
            int id = (int) w.id;
            if (appliedBlocks[id] > 0 && keptBlocks[id] > 0) {
                throw new AssertionError(when + ": " + w + " was never answered and is applied to only "
                        + appliedBlocks[id] + " of its blocks (" + keptBlocks[id] + " hold the older content)");
            }
            if (appliedBlocks[id] > 0) {
                applied++;
                w.outcome = Outcome.UNANSWERED_APPLIED;
            } else {
                w.outcome = Outcome.UNANSWERED_LOST;
            }
        }
        verified = writes.size();
        System.arraycopy(newState, 0, settled, 0, blockCount);
        Arrays.fill(unanswered, NONE);
        busy.clear();
        return new Check(blockCount, unansweredWrites, applied, acked);
    }

    /**
     * A forced failover gave up a tail of acknowledged writes, by design: settles every block on
     * what the new primary holds and forgets every write sent so far. Call it only once the image
     * is proven to be a state the writes reached (for a serial writer, {@code PrefixCheck}); it
     * still fails on a block that holds bytes of no write or a torn one.
     */
    public synchronized void adopt(NbdClient client, String when) throws Exception {
        long[] found = ExportBlocks.identify(client, blockCount, (d, at, b, scratch) -> identify(d, at, b, scratch, when));
        for (Write w : writes.subList(verified, writes.size())) {
            if (w.outcome == Outcome.SENT || w.outcome == Outcome.UNANSWERED) {
                w.outcome = Outcome.UNANSWERED_LOST;
            }
        }
        verified = writes.size();
        System.arraycopy(found, 0, settled, 0, blockCount);
        Arrays.fill(unanswered, NONE);
        busy.clear();
    }

    /** The id of the write whose bytes block {@code b} holds (0 for zeros), or an AssertionError. */
    private long identify(byte[] data, int at, int b, byte[] expected, String when) {
        if (isZero(data, at)) {
            return ZEROS;
        }
        ByteBuffer header = ByteBuffer.wrap(data, at, 16);
        long id = header.getLong();
        long block = header.getLong();
        if (id <= 0 || id > writes.size() || block != b) {
            throw new AssertionError(when + ": block " + b + " (offset " + (long) b * BLOCK + ") holds bytes of no write"
                    + " sent to it, starting " + HexFormat.of().formatHex(data, at, at + 32) + "; its last acknowledged "
                    + "content is " + describe(settled[b]));
        }
        fill(id, b, expected, 0);
        int diff = Arrays.mismatch(data, at, at + BLOCK, expected, 0, BLOCK);
        if (diff >= 0) {
            throw new AssertionError(when + ": block " + b + " (offset " + (long) b * BLOCK + ") starts as "
                    + describe(id) + " but differs from it at byte " + diff + " of the block (a torn block)");
        }
        return id;
    }

    private boolean holdsZeros(long id) {
        return id == ZEROS || writes.get((int) id - 1).zeroes;
    }

    private String describe(long id) {
        return id == ZEROS ? "zeros (never written)" : id == NONE ? "nothing" : writes.get((int) id - 1).toString();
    }

    private static boolean isZero(byte[] data, int at) {
        for (int i = at; i < at + BLOCK; i++) {
            if (data[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Block {@code block} of write {@code id}: the id, the block number, then bytes seeded by both. */
    private void fill(long id, int block, byte[] into, int at) {
        ByteBuffer b = ByteBuffer.wrap(into, at, BLOCK);
        b.putLong(id).putLong(block);
        long x = (seed ^ (id * 0x9E3779B97F4A7C15L) ^ ((long) block << 32 | block)) | 1;
        while (b.hasRemaining()) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b.putLong(x);
        }
    }
}
