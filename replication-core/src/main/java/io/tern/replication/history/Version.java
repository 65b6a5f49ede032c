package io.tern.replication.history;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One epoch of a resource's history: primary {@code node} started epoch {@code epoch} with the
 * EPOCH record at LSN {@code start}, after the history whose head digest is {@code prev}. Its
 * digest chains all of it, so two versions with equal digests have equal histories up to their
 * start, and two primaries that start the same epoch number at the same LSN still differ.
 *
 * <p>The EPOCH record carries the version whole: its header holds the epoch and the LSN, its
 * payload {@link #epochPayload()} the previous digest and the node's name.
 */
public record Version(long epoch, String node, long start, byte[] prev, byte[] digest) {
    /** Bytes of a digest. */
    public static final int DIGEST_LENGTH = 32;
    /** The previous digest of a resource's first version. */
    public static final byte[] ROOT = new byte[DIGEST_LENGTH];
    private static final int MAX_NODE = 255;
    private static final HexFormat HEX = HexFormat.of();

    public Version {
        Objects.requireNonNull(node, "node");
        if (epoch < 1 || start < 1) {
            throw new IllegalArgumentException("version " + epoch + " of " + node + " at lsn " + start
                    + ": epoch and start must be positive");
        }
        if (prev.length != DIGEST_LENGTH || digest.length != DIGEST_LENGTH) {
            throw new IllegalArgumentException("digests must be " + DIGEST_LENGTH + " bytes");
        }
        prev = prev.clone();
        digest = digest.clone();
    }

    /** The version that {@code node} starts as epoch {@code epoch} at {@code start}, after {@code prev}. */
    public static Version start(long epoch, String node, long start, byte[] prev) {
        return new Version(epoch, node, start, prev, digestOf(epoch, node, start, prev));
    }

    /**
     * The version an EPOCH record states (its header's epoch and LSN, its payload).
     *
     * @throws IllegalArgumentException if the payload is not an EPOCH record's
     */
    public static Version fromEpochRecord(long epoch, long lsn, ByteBuffer payload) {
        ByteBuffer p = payload.duplicate();
        if (p.remaining() < DIGEST_LENGTH + 1 || p.remaining() > DIGEST_LENGTH + MAX_NODE) {
            throw new IllegalArgumentException("EPOCH record lsn " + lsn + " has a payload of " + p.remaining()
                    + " bytes; expected a digest and a node name");
        }
        byte[] prev = new byte[DIGEST_LENGTH];
        p.get(prev);
        byte[] name = new byte[p.remaining()];
        p.get(name);
        return start(epoch, new String(name, StandardCharsets.UTF_8), lsn, prev);
    }

    /** What the EPOCH record starting this version carries: the previous digest, then the node's name. */
    public byte[] epochPayload() {
        byte[] name = node.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(DIGEST_LENGTH + name.length).put(prev).put(name).array();
    }

    static byte[] digestOf(long epoch, String node, long start, byte[] prev) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        byte[] name = node.getBytes(StandardCharsets.UTF_8);
        sha.update(ByteBuffer.allocate(16 + 4 + name.length + DIGEST_LENGTH).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(epoch).putLong(start).putInt(name.length).put(name).put(prev).array());
        return sha.digest();
    }

    /** Whether this is the first version of a resource. */
    public boolean isFirst() {
        return Arrays.equals(prev, ROOT);
    }

    public boolean follows(Version v) {
        return Arrays.equals(prev, v.digest);
    }

    public boolean sameAs(Version v) {
        return v != null && Arrays.equals(digest, v.digest);
    }

    @Override
    public byte[] prev() {
        return prev.clone();
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    /** The digest in hex. */
    public String id() {
        return HEX.formatHex(digest);
    }

    /** A short form for logs and status: the digest's first 12 hex digits. */
    public String shortId() {
        return id().substring(0, 12);
    }

    /** {@code epoch node start prev digest}: one line of a history file. */
    public String toLine() {
        return epoch + " " + node + " " + start + " " + HEX.formatHex(prev) + " " + id();
    }

    /**
     * Parses {@link #toLine()}, checking that the digest is the one its fields give.
     *
     * @throws IllegalArgumentException if the line is malformed or the digest does not match
     */
    public static Version parseLine(String line) {
        String[] f = line.trim().split(" ");
        if (f.length != 5) {
            throw new IllegalArgumentException("history line '" + line + "' has " + f.length + " fields, not 5");
        }
        try {
            Version v = start(Long.parseLong(f[0]), f[1], Long.parseLong(f[2]), HEX.parseHex(f[3]));
            if (!Arrays.equals(v.digest, HEX.parseHex(f[4]))) {
                throw new IllegalArgumentException("history line '" + line + "': the digest does not match its fields");
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("history line '" + line + "': " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Version v && Arrays.equals(digest, v.digest);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest);
    }

    @Override
    public String toString() {
        return "epoch " + epoch + " of " + node + " from lsn " + start + " (" + shortId() + ")";
    }
}
