package io.tern.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import io.tern.node.Node;
import io.tern.node.NodeHome;
import io.tern.node.ResourceConfig;

/**
 * The demo's verification at a quiet moment (no writes, the secondary caught up): every block on
 * the primary holds what the {@link DemoModel} says, the secondary's image equals it block by
 * block and by SHA-256, and the ext4 image read back from the primary passes {@code e2fsck -fn}.
 * For the self-check it can first overwrite one block of the secondary's backing file behind
 * Tern's back, which the comparison must then report.
 */
final class DemoCheck {
    private final DemoModel model;
    private final long size;
    private final DemoExt4.Image image;
    private final Optional<DemoExt4> ext4;
    private final Path work;

    /**
     * @param image the ext4 image at the device's start, or {@code null}
     * @param work  a folder for the image read back (for e2fsck)
     */
    DemoCheck(DemoModel model, long size, DemoExt4.Image image, Optional<DemoExt4> ext4, Path work) {
        this.model = model;
        this.size = size;
        this.image = image;
        this.ext4 = ext4;
        this.work = work;
    }

    /**
     * Checks both exports; returns the images' SHA-256.
     *
     * @param corrupt first overwrite a block of the secondary's backing file (the self-check)
     * @param when    which check this is, for the messages
     * @param acked   the writes acknowledged so far, for the report
     * @throws DemoFailure naming the blocks, if a check fails
     */
    String verify(Node primary, Node secondary, NodeHome secondaryHome, boolean corrupt, String when, long acked)
            throws Exception {
        String p = (String) primary.status().get("node");
        String s = (String) secondary.status().get("node");
        if (corrupt) {
            corruptOneBlock(secondaryHome, s);
        }
        DemoImages.Report r = DemoImages.compare(primary.nbdAddress(), secondary.nbdAddress(), size, model,
                image == null ? 0 : image.bytes().length);
        if (r.missingCount() > 0) {
            throw new DemoFailure(String.format(Locale.ROOT, "%s: %,d of %,d blocks of the primary %s do not hold their "
                    + "last acknowledged write (or the ext4 image), first %s", when, r.missingCount(), r.blocks(), p,
                    blocks(r.missing())));
        }
        System.out.printf(Locale.ROOT, "  %s (primary): all %,d blocks hold what they must: the last acknowledged write "
                + "of each (%,d so far)%s%n", p, r.blocks(), acked, image == null ? "" : " and the ext4 image");
        if (r.differingCount() > 0 || !r.primaryDigest().equals(r.secondaryDigest())) {
            throw new DemoFailure(String.format(Locale.ROOT, "%s: the images differ: %,d of %,d blocks of %s differ "
                    + "from %s's, first %s; sha256 %s %s, %s %s", when, r.differingCount(), r.blocks(), s, p,
                    blocks(r.differing()), p, r.primaryDigest().substring(0, 16), s, r.secondaryDigest().substring(0, 16)));
        }
        System.out.printf("  %s (secondary): equal to %s block by block; sha256 of both %s%n", s, p,
                r.primaryDigest().substring(0, 16));
        if (image != null) {
            Path read = work.resolve("read-back.img");
            String fsck = ext4.orElseThrow().check(read, r.imageRegion(), p);
            Files.deleteIfExists(read);
            System.out.println("  e2fsck -fn of the file system read back from " + p + ": " + fsck);
        }
        return r.primaryDigest();
    }

    /** Inverts one block of the random region in the secondary's backing file, behind Tern's back. */
    private void corruptOneBlock(NodeHome home, String node) throws IOException {
        Path data = ResourceConfig.load(home.resourceDir(DemoCommand.RES)).data();
        int block = model.firstRandomBlock() + (model.blocks() - model.firstRandomBlock()) / 2;
        long offset = (long) block * DemoModel.BLOCK;
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(DemoModel.BLOCK);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // until the whole block is read
            }
            byte[] bytes = b.array();
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) ~bytes[i];
            }
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
        System.out.printf("  self-check: block %d (offset %d) of %s's backing file %s was overwritten behind Tern's "
                + "back%n", block, offset, node, data);
    }

    private static String blocks(List<Integer> list) {
        StringBuilder b = new StringBuilder();
        for (int block : list) {
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append("block ").append(block).append(" (offset ").append((long) block * DemoModel.BLOCK).append(')');
        }
        return b.toString();
    }
}
