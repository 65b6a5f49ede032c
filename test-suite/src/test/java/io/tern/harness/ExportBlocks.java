package io.tern.harness;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;

/** Reads a whole export in 1 MiB requests, all in flight at once, and names what each 4 KiB block holds. */
final class ExportBlocks {
    private static final int BLOCK = 4096;
    private static final int READ_CHUNK = 1 << 20;

    /** Names the content of one block: {@code data[at, at + 4096)} is block {@code block}. */
    interface Identifier {
        long identify(byte[] data, int at, int block, byte[] scratch);
    }

    private ExportBlocks() {
    }

    /** What {@code id} names each of the export's first {@code blockCount} blocks. */
    static long[] identify(NbdClient client, int blockCount, Identifier id) throws Exception {
        long[] found = new long[blockCount];
        byte[] scratch = new byte[BLOCK];
        int blocksPerChunk = READ_CHUNK / BLOCK;
        List<CompletableFuture<byte[]>> reads = new ArrayList<>();
        for (int first = 0; first < blockCount; first += blocksPerChunk) {
            reads.add(client.read((long) first * BLOCK, Math.min(blocksPerChunk, blockCount - first) * BLOCK));
        }
        for (int chunk = 0; chunk < reads.size(); chunk++) {
            byte[] data = reads.get(chunk).get(60, TimeUnit.SECONDS);
            for (int i = 0; i * BLOCK < data.length; i++) {
                int b = chunk * blocksPerChunk + i;
                found[b] = id.identify(data, i * BLOCK, b, scratch);
            }
        }
        return found;
    }
}
