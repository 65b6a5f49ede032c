package io.tern.replication.sync;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** The chunk digest of a full sync: SHA-256, so two chunks with equal digests are taken as equal. */
public final class Digests {
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    });

    private Digests() {
    }

    /** The digest of the bytes remaining in {@code data}, which it consumes. */
    public static byte[] sha256(ByteBuffer data) {
        MessageDigest md = SHA256.get();
        md.reset();
        md.update(data);
        return md.digest();
    }
}
