package io.tern.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import io.tern.security.Certificates;
import io.tern.security.Transport;
import io.tern.testing.ExternalTool;

/** Helpers for system tests of several real nodes replicating a resource. */
public final class Replication {
    private Replication() {
    }

    /** First and last port {@link #freePort()} hands out: below Linux's ephemeral range (32768-60999). */
    private static final int FIRST_PORT = 20000;
    private static final int LAST_PORT = 32767;
    private static final java.util.concurrent.atomic.AtomicInteger NEXT_PORT = new java.util.concurrent.atomic.AtomicInteger(
            FIRST_PORT);

    /**
     * A port free right now that this test JVM has handed out to no one before, for an address
     * that must stay the same across restarts (a node's replication, NBD and HTTP ports). It lies
     * below the ephemeral range: while its node is down, no port-0 bind or outgoing connection of
     * a test running alongside can take it, so a client retrying the old address never reaches
     * another test's node.
     */
    public static int freePort() throws IOException {
        for (int tries = 0; tries <= LAST_PORT - FIRST_PORT; tries++) {
            int port = NEXT_PORT.getAndUpdate(p -> p >= LAST_PORT ? FIRST_PORT : p + 1);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException inUse) {
                // taken by something outside this JVM: try the next one
            }
        }
        throw new IOException("no free port in " + FIRST_PORT + ".." + LAST_PORT);
    }

    /** {@code tern init} of a node in {@code dir/name} with fixed replication, NBD and HTTP ports. */
    public static TernNode init(Path dir, String name, String cluster) throws IOException, InterruptedException {
        return init(dir.resolve(name), dir.resolve(name), name, cluster);
    }

    /**
     * {@code tern init} of a node in {@code home} whose output goes to {@code logs} (both made if
     * missing), with fixed replication, NBD and HTTP ports.
     */
    public static TernNode init(Path home, Path logs, String name, String cluster) throws IOException, InterruptedException {
        return init(home, logs, name, cluster, freePort(), null);
    }

    /**
     * {@code tern init} as {@link #init(Path, Path, String, String)}, replicating on
     * {@code listenPort} and, with {@code advertise} not null, publishing that address for the
     * other members to dial (a proxy in front of the node).
     */
    public static TernNode init(Path home, Path logs, String name, String cluster, int listenPort,
            InetSocketAddress advertise) throws IOException, InterruptedException {
        Files.createDirectories(home);
        Files.createDirectories(logs);
        TernNode node = new TernNode(home, logs);
        List<String> args = new java.util.ArrayList<>(List.of("init", "--home", home.toString(), "--node", name,
                "--cluster", cluster, "--listen", "127.0.0.1:" + listenPort, "--nbd", "127.0.0.1:" + freePort(), "--http",
                "127.0.0.1:" + freePort()));
        if (advertise != null) {
            args.addAll(List.of("--advertise", advertise.getHostString() + ":" + advertise.getPort()));
        }
        assertThat(node.command(60, args.toArray(String[]::new))).as("tern init %s", name).isZero();
        issueCertificate(home, name, cluster);
        return node;
    }

    /** The CA of each cluster the tests made, kept for the life of the test JVM. */
    private static final Map<String, Certificates.Issued> CAS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The tests' CA of {@code cluster} (made at first use). */
    public static Certificates.Issued ca(String cluster) {
        return CAS.computeIfAbsent(cluster, c -> {
            try {
                return Certificates.newCa(c, Instant.now().plus(Duration.ofDays(100)));
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /**
     * Puts a certificate of the tests' CA for node {@code name} of {@code cluster} into
     * {@code home}/tls, as {@code tern cert issue NAME --home HOME} does: every node of a system
     * test talks over mutual TLS, like a node in production.
     */
    public static void issueCertificate(Path home, String name, String cluster) throws IOException {
        Certificates.Issued ca = ca(cluster);
        Path tls = home.resolve(Transport.DIR);
        Instant now = Instant.now();
        try {
            Certificates.write(Certificates.issue(ca, cluster, name, now.minusSeconds(60), now.plus(Duration.ofDays(90))),
                    tls.resolve(Certificates.NODE_CERT), tls.resolve(Certificates.NODE_KEY), true);
            Certificates.writeCertificate(ca.certificate(), tls.resolve(Certificates.CA_CERT)); // durably: power-loss tests
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot issue the certificate of " + name + ": " + e.getMessage(), e);
        }
    }

    /** Runs a tern command for the node's home and fails with its output unless it succeeds. */
    public static void tern(TernNode node, String... args) throws IOException, InterruptedException {
        String[] full = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of("--home", node.home().toString())).toArray(String[]::new);
        int code = node.command(120, full);
        assertThat(code).as("tern %s (see %s)", String.join(" ", args), node.logs().resolve("command.err")).isZero();
    }

    /**
     * Waits until the primary's log stands still and every secondary has replayed all of it onto a
     * consistent disk, as their status says.
     */
    public static void awaitCaughtUp(TernNode primary, String res, Duration atMost, TernNode... secondaries) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(100)).until(() -> {
            long logged = TernNode.number(primary.resource(res), "logged_lsn");
            for (TernNode s : secondaries) {
                Map<String, Object> r = s.resource(res);
                if (!"UpToDate".equals(r.get("disk")) || TernNode.number(r, "replayed_lsn") != logged) {
                    return false;
                }
            }
            return TernNode.number(primary.resource(res), "logged_lsn") == logged;
        });
    }

    /** SHA-256 of a resource as a real NBD client reads it from the node's export (nbdcopy). */
    public static String exportDigest(TernNode node, String res, Path work) throws IOException, InterruptedException {
        Path copy = Files.createTempFile(work, "export-", ".img");
        try {
            String uri = "nbd://" + node.nbdAddress().getHostString() + ":" + node.nbdAddress().getPort() + "/" + res;
            ExternalTool.Result r = ExternalTool.run(work, 300, "nbdcopy", uri, copy.toString());
            assertThat(r.exitCode()).as("nbdcopy %s: %s", uri, r.stderr()).isZero();
            return sha256(copy);
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The peers list of a resource's status entry. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> peers(Map<String, Object> resource) {
        return (List<Map<String, Object>>) resource.get("peers");
    }
}
