package io.tern.system;

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;

import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;

/**
 * Child process of {@link PowerLossLogTest}: appends from many threads into a log on the
 * power-loss file system and prints {@code ACK <lsn> <offset> <size>} for every append once it is
 * durable. Killed with SIGKILL, then the file system loses power under it.
 * Args: log folder, writer threads, round number (makes offsets unique across rounds).
 */
public final class PowerLossLogWriter {
    static final long SEGMENT = 1L << 20;

    /** The payload of a record is a function of its device offset and size, so it checks alone. */
    static ByteBuffer payload(long offset, int size) {
        byte[] b = new byte[size];
        new Random(offset * 31 + size).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int writers = Integer.parseInt(args[1]);
        long round = Long.parseLong(args[2]);
        TransactionLog log = TransactionLog.open(new LogConfig().directory(dir).name("powerloss").segmentSize(SEGMENT)
                .reserve(0));
        LinkedBlockingQueue<String> acks = new LinkedBlockingQueue<>();
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.US_ASCII));
        out.write("OPEN " + log.recovery().lastLsn() + "\n");
        out.flush();
        for (int w = 0; w < writers; w++) {
            long writer = w;
            Thread t = new Thread(() -> {
                for (long i = 0; ; i++) {
                    long offset = ((round * 1000 + writer) * 1_000_000L + i) * 512;
                    int size = 512 * (1 + (int) (i % 16));
                    long lsn = log.appendWrite(round, offset, payload(offset, size), 0).join();
                    acks.add("ACK " + lsn + " " + offset + " " + size + "\n");
                }
            }, "writer-" + w);
            t.setDaemon(true);
            t.start();
        }
        while (true) {
            out.write(acks.take());
            String more;
            while ((more = acks.poll()) != null) {
                out.write(more);
            }
            out.flush();
        }
    }
}
