package io.tern.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.tern.log.LogConfig;
import io.tern.log.LogReader;
import io.tern.log.LogRecord;
import io.tern.log.RecordOp;
import io.tern.log.RecoveryReport;
import io.tern.log.TransactionLog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tern demo}: runs what Tern has built so far on an embedded default and checks it.
 * Today that is the transaction log: concurrent durable appends with group commit, a reader
 * following the durable tail (as log shipping will), then a reopen with full recovery and a
 * verification of every record.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run Tern on an embedded default and verify the result.")
final class DemoCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--dir", description = "Folder for the demo's data (default: a new temporary folder).")
    Path dir;

    @Option(names = "--writers", defaultValue = "16", description = "Concurrent writers (default: ${DEFAULT-VALUE}).")
    int writers;

    @Option(names = "--seconds", defaultValue = "3", description = "How long to write (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Override
    public Integer call() throws Exception {
        Path root = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tern-demo-");
        Path logDir = root.resolve("log");
        System.out.println("Tern demo: the transaction log (replication, the NBD server and the node daemon are");
        System.out.println("not built yet; this demo grows with them).");
        System.out.println("data: " + logDir);

        AtomicLong tailed = new AtomicLong();
        AtomicReference<Throwable> tailError = new AtomicReference<>();
        LogLoad.Result result;
        long last;
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(logDir).name("demo"))) {
            long first = log.durableLsn() + 1;
            Thread tail = new Thread(() -> follow(log, first, tailed, tailError), "demo-tail");
            tail.setDaemon(true);
            tail.start();
            System.out.printf("writing 4 KiB records from %d writers for %d s, each waiting for its durable ack ...%n",
                    writers, seconds);
            result = LogLoad.run(log, writers, 4096, TimeUnit.SECONDS.toMillis(seconds), 1);
            last = log.durableLsn();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (tailed.get() < last - first + 1 && tailError.get() == null && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            tail.interrupt();
        }
        System.out.printf("  %,d appends: %,.0f appends/s, %.1f MiB/s, ack latency p50 %.0f us, p99 %.0f us%n",
                result.appends(), result.appendsPerSecond(), result.mibPerSecond(), result.p50Micros(), result.p99Micros());
        System.out.printf("  a reader following the durable tail saw %,d records%n", tailed.get());

        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(logDir).name("demo"))) {
            RecoveryReport r = log.recovery();
            System.out.println("reopened: " + r);
            long verified = verifyAll(log);
            boolean ok = tailError.get() == null && r.lastLsn() == last && verified == last
                    && tailed.get() == result.appends();
            System.out.printf("verified %,d records from lsn 1: checksums good, LSNs dense%n", verified);
            if (!ok) {
                System.out.printf("DEMO FAILED: durable lsn %d, recovered %d, verified %d, tailed %d, tail error %s%n",
                        last, r.lastLsn(), verified, tailed.get(), tailError.get());
                return 1;
            }
        }
        if (dir == null) {
            deleteTree(root);
            System.out.println("demo OK (its temporary data was removed; keep it with --dir DIR)");
        } else {
            System.out.println("demo OK; data kept in " + root);
        }
        return 0;
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static void follow(TransactionLog log, long from, AtomicLong seen, AtomicReference<Throwable> error) {
        LogRecord rec = new LogRecord();
        try (LogReader reader = log.reader(from)) {
            while (!Thread.currentThread().isInterrupted()) {
                if (reader.next(rec)) {
                    seen.incrementAndGet();
                } else {
                    Thread.onSpinWait();
                }
            }
        } catch (Throwable e) {
            error.set(e);
        }
    }

    private static long verifyAll(TransactionLog log) {
        LogRecord rec = new LogRecord();
        long n = 0;
        try (LogReader reader = log.reader(log.firstLsn())) {
            while (reader.next(rec)) {
                if (rec.op() != RecordOp.WRITE || rec.length() != 4096) {
                    throw new IllegalStateException("unexpected record " + rec);
                }
                n++;
            }
        }
        return n;
    }
}
