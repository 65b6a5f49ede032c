package io.tern.harness;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletionException;

import io.tern.block.nbd.NbdClient;

/**
 * What a device in {@code flush} durability mode must hold after a power cut, 4 KiB block by
 * block, for writers that never have two writes to one block in flight at once (see
 * {@link #claim}). NBD's rules make a write durable when a FLUSH sent after its reply completes,
 * or when it was a FUA write and was replied; nothing else is promised. So each block has a
 * <em>floor</em>: its last durable write (or, after a {@link #verify}, what it was found to hold).
 * After a cut the block holds its floor or any write sent to it since — acknowledged or never
 * answered, newest or not, since flush mode may lose an acknowledged write whose record the log
 * had not synced. Never bytes of a write not sent to it, never a block torn between two writes.
 *
 * <p>Unlike {@link BlockHistory} (sync mode), a write is not checked to be applied whole or not
 * at all: a write no FLUSH covered may survive on some of its blocks only.
 *
 * <p>Blocks carry the same self-describing content as {@link BlockHistory}'s: the write's id and
 * the block number in the first 16 bytes, then bytes derived from both.
 *
 * <p>Thread-safe: writers claim and answer writes and flushes from any thread; {@link #verify}
 * runs while no request is in flight (the node that served them is gone).
 */
public final class FlushHistory {
    public static final int BLOCK = 4096;
    /** Id of the zeros a never-written block holds. */
    private static final long ZEROS = 0;

    /** A write sent by a test: ids are dense from 1. */
    public static final class Write {
        private final long id;
        private final int firstBlock;
        private final int blocks;
        private final boolean zeroes;
        private final boolean fua;
        private final int round;
        /** Guarded by the history. */
        private Outcome outcome = Outcome.SENT;
        /** Order of its acknowledgement among all acknowledgements (from 1), 0 until acknowledged. */
        private long ackSeq;
        private boolean resolved;
        private String detail = "";

        Write(long id, int firstBlock, int blocks, boolean zeroes, boolean fua, int round) {
            this.id = id;
            this.firstBlock = firstBlock;
            this.blocks = blocks;
            this.zeroes = zeroes;
            this.fua = fua;
            this.round = round;
        }

        public long offset() {
            return (long) firstBlock * BLOCK;
        }

        public int length() {
            return blocks * BLOCK;
        }

        public boolean zeroes() {
            return zeroes;
        }

        public boolean fua() {
            return fua;
        }

        @Override
        public String toString() {
            return "write #" + id + " (" + (zeroes ? "zeroes" : fua ? "FUA data" : "data") + " at " + offset() + ", "
                    + length() + " bytes, round " + round + ", "
                    + outcome.name().toLowerCase(Locale.ROOT) + (ackSeq > 0 ? " as #" + ackSeq : "") + detail + ")";
        }
    }

    enum Outcome { SENT, ACKNOWLEDGED, REFUSED }

    /** What one {@link #verify} found. */
    public record Check(int blocks, int unflushedHeld, int unflushedLost, int unansweredHeld, long flushes) {
        @Override
        public String toString() {
            return blocks + " blocks hold their durable write or a later one; " + unflushedHeld
                    + " hold an acknowledged write no FLUSH covered, " + unflushedLost
                    + " lost one (flush mode may), " + unansweredHeld + " hold a write never answered; "
                    + flushes + " FLUSHes completed in all";
        }
    }

    private final long seed;
    private final int blockCount;
    /** Per block: the id of its durable write, or of what the last verify found there. */
    private final long[] floor;
    /** Per block: the ids of the writes sent to it since its floor, in order. */
    private final List<List<Long>> since;
    private final BitSet busy;
    private final List<Write> writes = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private long acked;
    /** Acknowledgements replied before a FLUSH that completed was sent: {@code ackSeq <= flushedMark}. */
    private long flushedMark;
    private long flushes;
    private int verified;

    public FlushHistory(long deviceSize, long seed) {
        if (deviceSize % BLOCK != 0) {
            throw new IllegalArgumentException("device size " + deviceSize + " is not a multiple of " + BLOCK);
        }
        this.seed = seed;
        this.blockCount = (int) (deviceSize / BLOCK);
        this.floor = new long[blockCount];
        this.since = new ArrayList<>(blockCount);
        for (int b = 0; b < blockCount; b++) {
            since.add(new ArrayList<>(4));
        }
        this.busy = new BitSet(blockCount);
    }

    /**
     * Claims a new write of {@code blocks} blocks at a random place no write in flight touches, or
     * returns null when the place drawn is taken (draw again).
     */
    public synchronized Write claim(Random random, int blocks, boolean zeroes, boolean fua, int round) {
        int first = random.nextInt(blockCount - blocks + 1);
        int taken = busy.nextSetBit(first);
        if (taken >= 0 && taken < first + blocks) {
            return null;
        }
        Write w = new Write(writes.size() + 1L, first, blocks, zeroes, fua, round);
        writes.add(w);
        busy.set(first, first + blocks);
        for (int b = first; b < first + blocks; b++) {
            since.get(b).add(w.id);
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
     * Records the node's answer to a write: success numbers its acknowledgement; an error answer
     * (the node refused a valid write) is kept for {@link #errors()}; a lost connection leaves it
     * unanswered. Its blocks are free for the next write either way.
     */
    public synchronized void answered(Write w, Throwable failure) {
        if (w.outcome != Outcome.SENT || w.resolved) {
            errors.add(w + " answered again, or after the check that resolved it"
                    + (failure == null ? "" : ": " + failure));
            return;
        }
        if (failure == null) {
            w.outcome = Outcome.ACKNOWLEDGED;
            w.ackSeq = ++acked;
            busy.clear(w.firstBlock, w.firstBlock + w.blocks);
            return;
        }
        Throwable cause = cause(failure);
        if (cause instanceof NbdClient.NbdError e) {
            w.outcome = Outcome.REFUSED;
            w.detail = " with errno " + e.errno();
            errors.add(w.toString());
        } else {
            w.detail = " (" + cause.getMessage() + ")";
        }
    }

    /**
     * Call just before sending a FLUSH; pass what it returns to {@link #flushed} once the FLUSH
     * completes: every write acknowledged before now is durable then.
     */
    public synchronized long flushSent() {
        return acked;
    }

    /** A FLUSH sent when {@link #flushSent} returned {@code mark} completed. */
    public synchronized void flushed(long mark) {
        flushedMark = Math.max(flushedMark, mark);
        flushes++;
    }

    /** A FLUSH failed: an error answer is kept for {@link #errors()}; a lost connection is no error. */
    public synchronized void flushFailed(Throwable failure) {
        if (cause(failure) instanceof NbdClient.NbdError e) {
            errors.add("FLUSH answered with errno " + e.errno());
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

    /** FLUSHes completed so far. */
    public synchronized long flushes() {
        return flushes;
    }

    /** Writes and flushes the node answered with an error; there must be none. */
    public synchronized List<String> errors() {
        return List.copyOf(errors);
    }

    /**
     * Reads the whole device and checks every block against the history; then takes what each
     * block holds as its new floor (the node recovered it: it is what its log says from now on).
     * Call it after the node that served the writes restarted.
     *
     * @throws AssertionError naming the first block that holds something it must not, and why
     */
    public synchronized Check verify(NbdClient client, String when) throws Exception {
        if (client.size() != (long) blockCount * BLOCK) {
            throw new AssertionError(when + ": the export holds " + client.size() + " bytes, not "
                    + (long) blockCount * BLOCK);
        }
        long[] found = ExportBlocks.identify(client, blockCount, (d, at, b, scratch) -> identify(d, at, b, scratch, when));
        int unflushedHeld = 0;
        int unflushedLost = 0;
        int unansweredHeld = 0;
        long[] held = new long[blockCount];
        for (int b = 0; b < blockCount; b++) {
            List<Long> ids = since.get(b);
            int durable = -1; // index in ids of the block's last durable write, if one was sent since its floor
            int lastAcked = -1;
            for (int i = ids.size() - 1; i >= 0; i--) {
                Write w = write(ids.get(i));
                if (lastAcked < 0 && w.outcome == Outcome.ACKNOWLEDGED) {
                    lastAcked = i;
                }
                if (isDurable(w)) {
                    durable = i;
                    break;
                }
            }
            long got = found[b];
            int match = Integer.MIN_VALUE; // index in ids; -1 stands for the floor
            for (int i = ids.size() - 1; i >= durable; i--) {
                long candidate = i < 0 ? floor[b] : ids.get(i);
                if (got == ZEROS ? holdsZeros(candidate) : got == candidate) {
                    match = i;
                    break;
                }
            }
            if (match == Integer.MIN_VALUE) {
                throw new AssertionError(when + ": block " + b + " (offset " + (long) b * BLOCK + ") holds "
                        + describe(got) + ", but its durable content is "
                        + (durable < 0 ? describe(floor[b]) + " and the writes to it since are " + describe(ids)
                                : describe(ids.get(durable)) + " (made durable by a FLUSH or FUA) and the writes to it "
                                        + "since are " + describe(ids.subList(durable + 1, ids.size()))));
            }
            held[b] = match < 0 ? floor[b] : ids.get(match);
            if (match >= 0 && write(held[b]).outcome == Outcome.SENT) {
                unansweredHeld++;
            } else if (match >= 0 && match > durable) {
                unflushedHeld++;
            }
            if (match < lastAcked) {
                unflushedLost++;
            }
        }
        for (Write w : writes.subList(verified, writes.size())) {
            w.resolved = true;
        }
        verified = writes.size();
        System.arraycopy(held, 0, floor, 0, blockCount);
        since.forEach(List::clear);
        busy.clear();
        return new Check(blockCount, unflushedHeld, unflushedLost, unansweredHeld, flushes);
    }

    private boolean isDurable(Write w) {
        return w.outcome == Outcome.ACKNOWLEDGED && (w.fua || w.ackSeq <= flushedMark);
    }

    private Write write(long id) {
        return writes.get((int) id - 1);
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
                    + " sent to it, starting " + HexFormat.of().formatHex(data, at, at + 32) + "; its floor is "
                    + describe(floor[b]) + " and the writes to it since are " + describe(since.get(b)));
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
        return id == ZEROS || write(id).zeroes;
    }

    private String describe(long id) {
        return id == ZEROS ? "zeros (never written)" : write(id).toString();
    }

    private String describe(List<Long> ids) {
        if (ids.isEmpty()) {
            return "none";
        }
        List<String> s = new ArrayList<>();
        ids.forEach(id -> s.add(describe(id)));
        return String.join(", ", s);
    }

    private static Throwable cause(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
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
