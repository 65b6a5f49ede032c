package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.BitSet;
import java.util.Properties;

/**
 * A resync of some chunks only ({@code resync.properties} in a secondary's resource folder): after
 * {@code tern invalidate}, the chunks this node's discarded tail touched are copied from the
 * primary, and the primary's log from the fork does the rest. Written before the sync state that
 * starts it; deleted when the copy is done.
 *
 * @param reason why, for status and the log
 * @param chunks the chunks to copy, by index ({@link SecondaryResource#SYNC_CHUNK} bytes each)
 */
record Resync(String reason, BitSet chunks) {
    static Resync load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        Properties p = NodeHome.load(file);
        try {
            return new Resync(p.getProperty("reason", ""), BitSet.valueOf(Base64.getDecoder().decode(p.getProperty("chunks", ""))));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(file + " is damaged: " + e.getMessage(), e);
        }
    }

    void store(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("reason", reason);
        p.setProperty("chunks", Base64.getEncoder().encodeToString(chunks.toByteArray()));
        NodeHome.store(file, p);
    }
}
