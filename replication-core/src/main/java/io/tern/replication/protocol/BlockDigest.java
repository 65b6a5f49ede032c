package io.tern.replication.protocol;

import java.nio.ByteBuffer;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

import net.openhft.hashing.LongTupleHashFunction;

/**
 * The digest a full sync compares blocks by; two blocks with equal digests are taken as equal
 * and not sent. The secondary chooses it ({@code tern join --sync-digest}) and names it in every
 * SYNC_DIGESTS message; the primary digests its own blocks the same way.
 *
 * <ul>
 *   <li>{@link #XXH128}, the default: XXH3 with 128 bits, about 7 GB/s on one core here. Not
 *       cryptographic: collisions between blocks that are not crafted for it are out of reach
 *       (2<sup>-128</sup> per block), but a writer who controls both the old and the new content
 *       could craft a pair. It is the block checksum rsync itself negotiates.</li>
 *   <li>{@link #SHA256}: cryptographic, about 1.2 GB/s with the CPU's SHA extensions.</li>
 * </ul>
 */
public enum BlockDigest {
    XXH128(1, 16),
    SHA256(2, 32);

    private static final LongTupleHashFunction XXH3_128 = LongTupleHashFunction.xx128();
    private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    });

    private final int id;
    private final int length;

    BlockDigest(int id, int length) {
        this.id = id;
        this.length = length;
    }

    /** The algorithm's number on the wire. */
    public int id() {
        return id;
    }

    /** Bytes per digest. */
    public int length() {
        return length;
    }

    /** The name operators use ({@code xxh128}, {@code sha256}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Writes the digest of the bytes remaining in {@code block} into {@code out} at {@code at}; consumes nothing. */
    public void digest(ByteBuffer block, byte[] out, int at) {
        switch (this) {
            case XXH128 -> {
                long[] h = XXH3_128.hashBytes(block, block.position(), block.remaining()); // {low, high}
                putLong(out, at, h[1]); // canonical form, as xxhsum -H2 prints it: high half first
                putLong(out, at + 8, h[0]);
            }
            case SHA256 -> {
                MessageDigest md = SHA.get();
                md.reset();
                md.update(block.duplicate());
                try {
                    md.digest(out, at, length);
                } catch (DigestException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    /** The digest of the bytes remaining in {@code block}, which it does not consume. */
    public byte[] digest(ByteBuffer block) {
        byte[] out = new byte[length];
        digest(block, out, 0);
        return out;
    }

    /**
     * Runs the default digest over 64 MiB (about 0.1 s) so that the JIT compiles it before a
     * sync needs it. Measured: a node's first 1 GiB sync took 1 to 3 s longer without this,
     * digesting in the interpreter while the compiler caught up.
     */
    public static void warmUp() {
        ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
        byte[] out = new byte[XXH128.length];
        for (int i = 0; i < 64 * 256; i++) {
            XXH128.digest(b.slice((i % 256) * 4096, 4096), out, 0);
        }
    }

    /** The algorithm with wire number {@code id}; an unknown one is a protocol error. */
    public static BlockDigest ofId(int id) {
        for (BlockDigest d : values()) {
            if (d.id == id) {
                return d;
            }
        }
        throw new ProtocolException(ErrorCode.PROTOCOL, "unknown block digest algorithm " + id);
    }

    /** The algorithm an operator named. */
    public static BlockDigest parse(String label) {
        for (BlockDigest d : values()) {
            if (d.label().equalsIgnoreCase(label)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown sync digest '" + label + "' (xxh128 or sha256)");
    }

    private static void putLong(byte[] out, int at, long v) {
        for (int i = 0; i < 8; i++) {
            out[at + i] = (byte) (v >>> (56 - 8 * i));
        }
    }
}
