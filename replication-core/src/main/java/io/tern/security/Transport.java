package io.tern.security;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLPeerUnverifiedException;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a node's replication and link sessions travel: mutual TLS 1.3 between holders of
 * certificates of the cluster's CA ({@link Certificates}), or plain TCP where the home says so
 * (loopback only; {@code io.tern.node.NodeHome#transport}).
 *
 * <p>With TLS, both ends present a certificate and check the other's chain against the CA
 * (validity dates included), then, once the handshake is done, that it names a node of this
 * cluster (O) that is a member (CN; every holder when the member list is empty). The listener
 * further refuses a HELLO that names another node than the certificate does
 * ({@link #peerName}). A refused handshake never reaches the protocol: nothing is exchanged.
 *
 * <p>{@link #reload} rereads the certificate, key, CA and member list: new sessions use them,
 * sessions already open keep theirs (a rotated certificate takes over without a reconnect), and
 * sessions with a peer no longer admitted are closed. Thread-safe.
 */
public final class Transport {
    private static final Logger log = LoggerFactory.getLogger(Transport.class);
    /** The folder of a node home that holds its certificate, key and the cluster's CA. */
    public static final String DIR = "tls";
    /** How long a TLS handshake may take before the connection is closed. */
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    /** A certificate closer than this to its end is warned about at every load. */
    static final Duration EXPIRY_WARNING = Duration.ofDays(30);
    private static final AttributeKey<String> PEER = AttributeKey.valueOf("tern.peer");
    private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final Transport PLAIN = new Transport(null, null, null);
    /** BoringSSL through netty-tcnative where its native library loads (several times the JDK's speed), else the JDK's. */
    static final SslProvider PROVIDER = io.netty.handler.ssl.OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;

    private final Path dir;
    private final String self;
    private final String cluster;
    private volatile Material material;
    /** Handshakes that failed (no certificate, another CA, expired, timed out) since start. */
    private final java.util.concurrent.atomic.AtomicLong handshakeFailures = new java.util.concurrent.atomic.AtomicLong();
    /** Peers with a good certificate refused after the handshake (not a member, another cluster). */
    private final java.util.concurrent.atomic.AtomicLong peersRefused = new java.util.concurrent.atomic.AtomicLong();
    /** Per reason of refusal: when it was last logged, and how many were not logged since. */
    private final java.util.Map<String, long[]> lastLogged = new ConcurrentHashMap<>();
    /** Open TLS sessions, to close those of a peer dropped from the members. */
    private final Set<Channel> sessions = ConcurrentHashMap.newKeySet();

    private record Material(SslContext server, SslContext client, SslContext nbd, X509Certificate certificate,
                            Set<String> members) {
    }

    private Transport(Path dir, String self, String cluster) {
        this.dir = dir;
        this.self = self;
        this.cluster = cluster;
    }

    /** Plain TCP: no certificates, no identity beyond what a HELLO says. */
    public static Transport plain() {
        return PLAIN;
    }

    /**
     * Mutual TLS with the material in {@code dir} ({@code ca.crt}, {@code node.crt},
     * {@code node.key}) for node {@code self} of {@code cluster}, admitting {@code members}
     * (every certificate holder of the cluster when empty).
     *
     * @throws IOException if a file is missing or unreadable, or the certificate does not name
     *                     this node and cluster, is not signed by the CA, or is not valid now
     */
    public static Transport tls(Path dir, String self, String cluster, Set<String> members) throws IOException {
        Transport t = new Transport(dir, self, cluster);
        t.material = t.load(members);
        log.info("tls ({}): {} of cluster {}, certificate valid until {}, members {}", PROVIDER, self, cluster,
                t.notAfter(), members.isEmpty() ? "(any holder of a certificate)" : String.join(",", members));
        return t;
    }

    public boolean isTls() {
        return dir != null;
    }

    /** Rereads certificate, key, CA and takes {@code members}; closes sessions of peers no longer admitted. */
    public void reload(Set<String> members) throws IOException {
        if (!isTls()) {
            return;
        }
        Material next = load(members);
        material = next;
        log.info("tls ({}): reloaded {} (valid until {}), members {}", PROVIDER, dir.resolve(Certificates.NODE_CERT),
                next.certificate().getNotAfter().toInstant(), next.members().isEmpty() ? "(any holder of a certificate)"
                        : String.join(",", new java.util.TreeSet<>(next.members())));
        for (Channel c : sessions) {
            String peer = c.attr(PEER).get();
            if (peer != null && !admits(next, peer)) {
                log.warn("tls: closing the session with {} ({}): no longer a member", peer, c.remoteAddress());
                c.close();
            }
        }
    }

    /**
     * The context of the NBD server's STARTTLS as of now (a reload replaces it for the next
     * connection); {@code null} with plain TCP.
     */
    public SslContext nbdServer() {
        Material m = material;
        return m == null ? null : m.nbd();
    }

    /** When this node's certificate stops being valid, or {@code null} with plain TCP. */
    public Instant notAfter() {
        Material m = material;
        return m == null ? null : m.certificate().getNotAfter().toInstant();
    }

    /** Makes the listening end of a new connection: TLS first, then only peers whose certificate passes the check. */
    public void server(Channel c) {
        Material m = material;
        if (m == null) {
            return;
        }
        SslHandler ssl = m.server().newHandler(c.alloc());
        ssl.setHandshakeTimeout(HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        c.pipeline().addLast("tls", ssl);
        c.pipeline().addLast("tls-peer", new PeerCheck(null));
    }

    /**
     * Makes the dialling end of a new connection to {@code peer}; {@code expected} is the node
     * it must be (its certificate's CN), or {@code null} when only membership is known.
     */
    public void client(Channel c, InetSocketAddress peer, String expected) {
        Material m = material;
        if (m == null) {
            return;
        }
        SslHandler ssl = m.client().newHandler(c.alloc(), peer.getHostString(), peer.getPort());
        ssl.setHandshakeTimeout(HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        c.pipeline().addLast("tls", ssl);
        c.pipeline().addLast("tls-peer", new PeerCheck(expected));
    }

    /**
     * The node a connection's certificate names, once its handshake is verified; {@code null}
     * with plain TCP (or before).
     */
    public static String peerName(Channel c) {
        return c.attr(PEER).get();
    }

    /** Whether the channel carries TLS (then {@link #peerName} is its only identity). */
    public static boolean isTls(Channel c) {
        return c.pipeline().get(SslHandler.class) != null;
    }

    private boolean admits(Material m, String node) {
        return m.members().isEmpty() || m.members().contains(node);
    }

    /**
     * Checks a peer once its TLS handshake is done and closes the connection of one that fails.
     * Until then it holds back {@code channelActive} and drops anything read: the protocol
     * handlers behind it (which say HELLO when the channel becomes active) see only verified peers.
     */
    private final class PeerCheck extends ChannelInboundHandlerAdapter {
        private final String expected;
        private boolean active;

        PeerCheck(String expected) {
            this.expected = expected;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active = true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (!(evt instanceof SslHandshakeCompletionEvent done)) {
                ctx.fireUserEventTriggered(evt);
                return;
            }
            if (!done.isSuccess()) {
                handshakeFailures.incrementAndGet();
                refusal("tls: handshake with {} failed: {}", ctx.channel().remoteAddress(), reason(done.cause()));
                ctx.close();
                return;
            }
            String refused = check(ctx.channel(), ctx.pipeline().get(SslHandler.class));
            if (refused != null) {
                peersRefused.incrementAndGet();
                refusal("tls: refused {}: {}", ctx.channel().remoteAddress(), refused);
                ctx.close();
                return;
            }
            Channel c = ctx.channel();
            sessions.add(c);
            c.closeFuture().addListener(f -> sessions.remove(c));
            ctx.pipeline().remove(this);
            if (active) {
                ctx.fireChannelActive();
            }
            ctx.fireUserEventTriggered(evt);
        }

        private String check(Channel c, SslHandler ssl) {
            X509Certificate peer;
            try {
                Certificate[] chain = ssl.engine().getSession().getPeerCertificates();
                peer = (X509Certificate) chain[0];
            } catch (SSLPeerUnverifiedException | RuntimeException e) {
                return "no certificate";
            }
            String name = Certificates.commonName(peer);
            String org = Certificates.organization(peer);
            if (name == null || !io.tern.node.NodeHome.NAME.matcher(name).matches()) {
                return "its certificate names no node (subject " + peer.getSubjectX500Principal().getName() + ")";
            }
            if (!cluster.equals(org)) {
                return "its certificate is for node " + name + " of cluster '" + org + "', not '" + cluster + "'";
            }
            if (expected != null && !expected.equals(name)) {
                return "its certificate names node " + name + ", expected " + expected;
            }
            Material m = material;
            if (!admits(m, name)) {
                return "node " + name + " is not a member (members: " + String.join(",", new java.util.TreeSet<>(m.members()))
                        + ")";
            }
            c.attr(PEER).set(name);
            log.info("tls: {} verified (certificate valid until {}) on {}", name, peer.getNotAfter().toInstant(),
                    c.remoteAddress());
            return null;
        }
    }

    /** TLS handshakes that failed since start: no certificate, another CA's, an expired one, or none within 10 s. */
    public long handshakeFailures() {
        return handshakeFailures.get();
    }

    /** Peers refused after a good handshake since start: not a member, or of another cluster. */
    public long peersRefused() {
        return peersRefused.get();
    }

    /**
     * Logs a refusal unless one for the same reason was logged in the last 10 s: a flood is
     * logged once per episode, and the next line for that reason says how many were not.
     */
    private void refusal(String format, Object address, String why) {
        long now = System.nanoTime();
        if (lastLogged.size() > 1000) {
            lastLogged.clear(); // many distinct reasons: forget them rather than grow
        }
        long[] entry = lastLogged.computeIfAbsent(why, k -> new long[] {now - LOG_EVERY_NANOS, 0});
        long more;
        synchronized (entry) {
            if (now - entry[0] < LOG_EVERY_NANOS) {
                entry[1]++;
                return;
            }
            entry[0] = now;
            more = entry[1];
            entry[1] = 0;
        }
        log.warn(format + (more > 0 ? " ({} more like it in the last 10 s were not logged)" : ""), address, why, more);
    }

    private static String reason(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        if (c instanceof java.nio.channels.ClosedChannelException) {
            // This node closing it (a stop), or the peer hanging up: it may have refused this
            // node's certificate, and its own log says why.
            return "the connection closed before the handshake ended";
        }
        return c == t ? t.toString() : t.getMessage() + " (" + c.getMessage() + ")";
    }

    private Material load(Set<String> members) throws IOException {
        Path caFile = dir.resolve(Certificates.CA_CERT);
        Path certFile = dir.resolve(Certificates.NODE_CERT);
        Path keyFile = dir.resolve(Certificates.NODE_KEY);
        for (Path p : new Path[] {caFile, certFile, keyFile}) {
            if (!Files.isRegularFile(p)) {
                throw new IOException("no " + p + ": make the node's certificate with 'tern cert issue " + self
                        + " --ca CA_DIR --home HOME' (see docs/security.md)");
            }
        }
        X509Certificate ca = Certificates.readCertificate(caFile);
        Certificates.Issued own = Certificates.read(certFile, keyFile);
        X509Certificate cert = own.certificate();
        if (!self.equals(Certificates.commonName(cert)) || !cluster.equals(Certificates.organization(cert))) {
            throw new IOException(certFile + " is for node " + Certificates.commonName(cert) + " of cluster '"
                    + Certificates.organization(cert) + "', this is node " + self + " of cluster '" + cluster + "'");
        }
        try {
            cert.verify(ca.getPublicKey());
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(certFile + " is not signed by the CA in " + caFile + ": " + e.getMessage(), e);
        }
        try {
            cert.checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            throw new IOException(certFile + " is not valid now (" + cert.getNotBefore().toInstant() + " to "
                    + cert.getNotAfter().toInstant() + "): issue a new one", e);
        }
        Instant end = cert.getNotAfter().toInstant();
        if (end.isBefore(Instant.now().plus(EXPIRY_WARNING))) {
            log.warn("tls: {} expires at {}: issue a new one and run 'tern cert reload'", certFile, end);
        }
        if (own.key() == null) {
            throw new IOException("no key in " + keyFile);
        }
        try {
            SslContext server = SslContextBuilder.forServer(own.key(), cert).trustManager(ca)
                    .clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.3").sslProvider(PROVIDER).build();
            // No host name check: peers are dialled by address, their identity is the node their
            // certificate names (checked after the handshake).
            SslContext client = SslContextBuilder.forClient().keyManager(own.key(), cert).trustManager(ca)
                    .endpointIdentificationAlgorithm(null).protocols("TLSv1.3").sslProvider(PROVIDER).build();
            // NBD clients (qemu, libnbd: GnuTLS) present a certificate of the same CA, any name.
            SslContext nbd = SslContextBuilder.forServer(own.key(), cert).trustManager(ca)
                    .clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.3", "TLSv1.2").sslProvider(PROVIDER).build();
            return new Material(server, client, nbd, cert, Set.copyOf(members));
        } catch (javax.net.ssl.SSLException e) {
            throw new IOException("cannot use the TLS material in " + dir + ": " + e.getMessage(), e);
        }
    }
}
