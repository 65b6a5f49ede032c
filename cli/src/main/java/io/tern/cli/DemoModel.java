package io.tern.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What every 4 KiB block of the demo's device must hold: the blocks of the file-system image
 * written at the start (if any), and for the rest the content of the last acknowledged write (or
 * zeros). A write that failed may have reached the device or not, so until the block's next
 * acknowledged write either content is accepted for it.
 *
 * <p>At most one write per block is in flight ({@link #pick}): NBD does not order concurrent
 * writes to the same range, and the last acknowledged write of a block must be a single one.
 * Thread-safe: writes are issued by the writer's thread and completed on the NBD client's.
 */
final class DemoModel {
    static final int BLOCK = 4096;

    private final int blocks;
    private final int firstRandom;
    private final byte[] image;
    private final int[] issued;
    private final int[] acked;
    private final boolean[] inFlight;
    private final Map<Integer, int[]> failedSinceAck = new HashMap<>();

    /**
     * @param size  the device's size
     * @param image the file-system image at the device's start (its length a multiple of
     *              {@link #BLOCK}), or {@code null}: random writes go to the blocks after it
     */
    DemoModel(long size, byte[] image) {
        this.blocks = Math.toIntExact(size / BLOCK);
        this.image = image;
        this.firstRandom = image == null ? 0 : image.length / BLOCK;
        this.issued = new int[blocks];
        this.acked = new int[blocks];
        this.inFlight = new boolean[blocks];
    }

    int blocks() {
        return blocks;
    }

    /** The first block that random writes go to (the blocks before it hold the image). */
    int firstRandomBlock() {
        return firstRandom;
    }

    /** A random block of the random region with no write in flight; marks it in flight. */
    synchronized int pick(SplittableRandom random) {
        while (true) {
            int block = firstRandom + random.nextInt(blocks - firstRandom);
            if (!inFlight[block]) {
                inFlight[block] = true;
                return block;
            }
        }
    }

    /** The next version of a block picked for a write. */
    synchronized int issue(int block) {
        return ++issued[block];
    }

    synchronized void acked(int block, int version) {
        acked[block] = version;
        failedSinceAck.remove(block);
        inFlight[block] = false;
    }

    synchronized void failed(int block, int version) {
        int[] before = failedSinceAck.get(block);
        int[] now = before == null ? new int[1] : Arrays.copyOf(before, before.length + 1);
        now[now.length - 1] = version;
        failedSinceAck.put(block, now);
        inFlight[block] = false;
    }

    /** Whether {@code data[offset, offset + BLOCK)} is a content the block may hold. */
    boolean holds(int block, byte[] data, int offset) {
        if (block < firstRandom) {
            return Arrays.equals(data, offset, offset + BLOCK, image, block * BLOCK, (block + 1) * BLOCK);
        }
        int version;
        int[] failed;
        synchronized (this) {
            version = acked[block];
            failed = failedSinceAck.get(block);
        }
        byte[] want = version == 0 ? new byte[BLOCK] : content(block, version);
        if (Arrays.equals(data, offset, offset + BLOCK, want, 0, BLOCK)) {
            return true;
        }
        for (int v : failed == null ? new int[0] : failed) {
            if (Arrays.equals(data, offset, offset + BLOCK, content(block, v), 0, BLOCK)) {
                return true;
            }
        }
        return false;
    }

    /** What the writer writes as a block's {@code version}: the block and version, then seeded noise. */
    static byte[] content(int block, int version) {
        ByteBuffer b = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(block).putInt(version);
        SplittableRandom r = new SplittableRandom(((long) block << 32) | version);
        while (b.hasRemaining()) {
            b.putLong(r.nextLong());
        }
        return b.array();
    }
}
