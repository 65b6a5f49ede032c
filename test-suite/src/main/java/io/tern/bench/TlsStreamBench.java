package io.tern.bench;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import io.tern.replication.ship.LogReceiver;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.ship.ReplicationServer;
import io.tern.replication.ship.ShipperConfig;
import io.tern.security.Certificates;
import io.tern.security.Transport;

/**
 * What TLS costs the log stream: a secondary pulls a primary's whole log (4 KiB records, fsync'd
 * on both sides) over loopback, over plain TCP and over mutual TLS 1.3, in alternating rounds
 * (ABAB) in one process. Prints MB/s and CPU seconds per GB for each, and the ratio. The
 * primary's shipper sends with sendfile over plain TCP and from memory under TLS, as in a node.
 *
 * <p>Usage: {@code TlsStreamBench DIR [MiB] [rounds]}.
 */
public final class TlsStreamBench {
    private TlsStreamBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "target/bench-tls");
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        LogBench.deleteTree(dir);
        Files.createDirectories(dir);
        Instant now = Instant.now();
        Certificates.Issued ca = Certificates.newCa("bench", now.plus(Duration.ofDays(1)));
        Transport primaryTls = transport(dir.resolve("tls-p"), ca, "p");
        Transport secondaryTls = transport(dir.resolve("tls-s"), ca, "s");
        try (TransactionLog primary = TransactionLog.open(new LogConfig().directory(dir.resolve("primary")).name("p"))) {
            fill(primary, mib);
            System.out.printf("| transport | round | MB/s | CPU s per GB |%n|---|---:|---:|---:|%n");
            double plainSum = 0;
            double tlsSum = 0;
            for (int round = 1; round <= rounds; round++) {
                for (boolean tls : round % 2 == 1 ? new boolean[] {false, true} : new boolean[] {true, false}) {
                    double[] r = pull(dir, primary, tls ? primaryTls : Transport.plain(),
                            tls ? secondaryTls : Transport.plain(), round + (tls ? "-tls" : "-plain"));
                    System.out.printf("| %s | %d | %.0f | %.2f |%n", tls ? "TLS 1.3 (" + provider() + ")" : "plain TCP",
                            round, r[0], r[1]);
                    if (tls) {
                        tlsSum += r[0];
                    } else {
                        plainSum += r[0];
                    }
                }
            }
            System.out.printf("%nTLS / plain throughput: %.2f× (mean of %d rounds each, %d MiB of log)%n",
                    tlsSum / plainSum, rounds, mib);
        }
        System.exit(0);
    }

    private static String provider() {
        return io.netty.handler.ssl.OpenSsl.isAvailable() ? "BoringSSL" : "JDK";
    }

    private static Transport transport(Path tls, Certificates.Issued ca, String node) throws Exception {
        Instant now = Instant.now();
        Certificates.write(Certificates.issue(ca, "bench", node, now.minusSeconds(60), now.plus(Duration.ofDays(1))),
                tls.resolve(Certificates.NODE_CERT), tls.resolve(Certificates.NODE_KEY), true);
        Certificates.writeCertificate(ca.certificate(), tls.resolve(Certificates.CA_CERT));
        return Transport.tls(tls, node, "bench", Set.of());
    }

    /** Appends {@code mib} MiB of 4 KiB records of random bytes and waits until they are durable. */
    private static void fill(TransactionLog log, int mib) throws Exception {
        Random random = new Random(42);
        byte[] block = new byte[4096];
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        for (int i = 0; i < mib * 256; i++) {
            random.nextBytes(block);
            acks.add(log.appendWrite(1, 4096L * (i % 65536), ByteBuffer.wrap(block.clone()), 0));
            if (acks.size() >= 1024) {
                for (CompletableFuture<Long> a : acks) {
                    a.get(60, TimeUnit.SECONDS);
                }
                acks.clear();
            }
        }
        for (CompletableFuture<Long> a : acks) {
            a.get(60, TimeUnit.SECONDS);
        }
    }

    /** A fresh secondary pulls the whole log: {MB/s, process CPU seconds per GB}. */
    private static double[] pull(Path dir, TransactionLog primary, Transport server, Transport client, String name)
            throws Exception {
        LogBench.deleteTree(dir.resolve("secondary-" + name));
        long bytes = primary.durableLsn() * 4096L; // payload bytes (the records' headers come on top)
        try (LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(primary));
             ReplicationServer listener = ReplicationServer.start(new InetSocketAddress("127.0.0.1", 0), "bench",
                     r -> shipper, server);
             TransactionLog secondary = TransactionLog.open(new LogConfig().directory(dir.resolve("secondary-" + name))
                     .name("s"))) {
            double cpu0 = cpuSeconds();
            long t0 = System.nanoTime();
            try (LogReceiver receiver = new LogReceiver("bench", "r0", "s", secondary, listener.address())
                    .transport(client).start()) {
                while (secondary.durableLsn() < primary.durableLsn()) {
                    Thread.sleep(5); // a benchmark's poll, not a test's wait
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            double cpu = cpuSeconds() - cpu0;
            return new double[] {bytes / 1e6 / seconds, cpu / (bytes / 1e9)};
        }
    }

    private static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }
}
