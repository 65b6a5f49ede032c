package io.tern.harness;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import io.tern.security.Certificates;
import io.tern.security.Transport;

/**
 * Blocking TLS 1.3 sockets for tests that speak the replication protocol by hand: as a node
 * (with the material in its home), or as any certificate at all (a stranger, an expired one).
 */
public final class TlsSockets {
    private TlsSockets() {
    }

    /** A connected socket that presents {@code home}'s certificate and trusts its CA; the handshake is done. */
    public static SSLSocket as(Path home, InetSocketAddress to) throws IOException {
        Path tls = home.resolve(Transport.DIR);
        return connect(Certificates.read(tls.resolve(Certificates.NODE_CERT), tls.resolve(Certificates.NODE_KEY)),
                Certificates.readCertificate(tls.resolve(Certificates.CA_CERT)), to);
    }

    /**
     * A socket presenting {@code identity} (none if {@code null}) and trusting {@code trusted};
     * the handshake is started but its failure is left to the first read or write, where a
     * refused peer sees it.
     */
    public static SSLSocket connect(Certificates.Issued identity, X509Certificate trusted, InetSocketAddress to)
            throws IOException {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            if (identity != null) {
                keys.setKeyEntry("node", identity.key(), new char[0], new java.security.cert.Certificate[] {identity.certificate()});
            }
            kmf.init(keys, new char[0]);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", trusted);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            Socket plain = new Socket(to.getAddress(), to.getPort());
            SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, to.getHostString(), to.getPort(), true);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.setSoTimeout(10_000);
            return s;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot make a TLS socket: " + e.getMessage(), e);
        }
    }
}
