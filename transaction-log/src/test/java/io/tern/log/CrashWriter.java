package io.tern.log;

import static io.tern.log.LogTestSupport.payloadFor;

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Child process of {@link CrashTest}: appends forever from many threads and prints every acked
 * append as {@code ACK <lsn> <offset>} once it is durable. Killed with SIGKILL by the test.
 * Args: log folder, writer threads, round number (makes offsets unique across rounds).
 */
public final class CrashWriter {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int writers = Integer.parseInt(args[1]);
        long round = Long.parseLong(args[2]);
        TransactionLog log = TransactionLog.open(new LogConfig().directory(dir).name("crash"));
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
                    // Wait for each ack before the next write, as a file system's writer would.
                    long lsn = log.appendWrite(1, offset, payloadFor(offset, size), 0).join();
                    acks.add("ACK " + lsn + " " + offset + "\n");
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
