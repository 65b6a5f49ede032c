package io.tern.security;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

import io.tern.log.DurableFiles;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A cluster's certificate authority and its node certificates (BouncyCastle builds and signs
 * them; the JDK reads them). Keys are ECDSA P-256, signatures SHA-256. A node certificate names
 * the node in its subject's CN and the cluster in its O, and is good for both ends of a TLS
 * session (server and client authentication): every node both listens and dials.
 *
 * <p>Files are PEM: {@code ca.crt}, {@code ca.key} (the CA's, kept by the operator, never on a
 * node unless they choose so), {@code node.crt}, {@code node.key} (PKCS#8, mode 0600).
 */
public final class Certificates {
    public static final String CA_CERT = "ca.crt";
    public static final String CA_KEY = "ca.key";
    public static final String NODE_CERT = "node.crt";
    public static final String NODE_KEY = "node.key";

    private static final SecureRandom RANDOM = new SecureRandom();

    private Certificates() {
    }

    /** A certificate with its private key. */
    public record Issued(X509Certificate certificate, PrivateKey key) {
    }

    /** A new self-signed CA for {@code cluster}, valid from now until {@code notAfter}. */
    public static Issued newCa(String cluster, Instant notAfter) throws GeneralSecurityException {
        KeyPair pair = newKeyPair();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, cluster)
                .addRDN(BCStyle.CN, "Tern CA of " + cluster).build();
        Instant now = Instant.now();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(now.minusSeconds(60)), Date.from(notAfter), subject, pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            return new Issued(sign(b, pair.getPrivate()), pair.getPrivate());
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build the CA certificate: " + e.getMessage(), e);
        }
    }

    /**
     * A certificate for node {@code node} of {@code cluster}, signed by {@code ca}, valid from
     * {@code notBefore} to {@code notAfter}.
     */
    public static Issued issue(Issued ca, String cluster, String node, Instant notBefore, Instant notAfter)
            throws GeneralSecurityException {
        return issue(ca, cluster, node, notBefore, notAfter, java.util.List.of());
    }

    /**
     * The same, with more subject alternative names than the node's: host names and IP addresses
     * that NBD clients (which check the server's name) use to reach it.
     */
    public static Issued issue(Issued ca, String cluster, String node, Instant notBefore, Instant notAfter,
                               java.util.List<String> altNames) throws GeneralSecurityException {
        java.util.List<GeneralName> names = new java.util.ArrayList<>();
        names.add(new GeneralName(GeneralName.dNSName, node));
        for (String n : altNames) {
            boolean ip = n.matches("[0-9.]+") || n.contains(":");
            names.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n));
        }
        KeyPair pair = newKeyPair();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, cluster).addRDN(BCStyle.CN, node)
                .build();
        X500Name issuer = X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, serial(), Date.from(notBefore),
                    Date.from(notAfter), subject, pair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                            new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(names.toArray(GeneralName[]::new)))
                    .addExtension(Extension.authorityKeyIdentifier, false,
                            ext.createAuthorityKeyIdentifier(ca.certificate()))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            return new Issued(sign(b, ca.key()), pair.getPrivate());
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build the certificate of " + node + ": " + e.getMessage(), e);
        }
    }

    /** The CN of a certificate's subject: the node it names. */
    public static String commonName(X509Certificate c) {
        return rdn(c, "CN");
    }

    /** The O of a certificate's subject: the cluster it belongs to. */
    public static String organization(X509Certificate c) {
        return rdn(c, "O");
    }

    private static String rdn(X509Certificate c, String type) {
        try {
            for (Rdn rdn : new LdapName(c.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase(type)) {
                    return rdn.getValue().toString();
                }
            }
            return null;
        } catch (InvalidNameException e) {
            return null;
        }
    }

    public static X509Certificate readCertificate(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (GeneralSecurityException e) {
            throw new IOException(file + " is not a PEM certificate: " + e.getMessage(), e);
        }
    }

    public static PrivateKey readKey(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
        int end = pem.indexOf("-----END PRIVATE KEY-----");
        if (begin < 0 || end < begin) {
            throw new IOException(file + " is not a PKCS#8 PEM private key");
        }
        String body = pem.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end).replaceAll("\\s", "");
        try {
            return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException(file + " is not an EC private key: " + e.getMessage(), e);
        }
    }

    /** Reads a certificate and its key written by {@link #write}. */
    public static Issued read(Path cert, Path key) throws IOException {
        return new Issued(readCertificate(cert), readKey(key));
    }

    /**
     * Writes {@code issued} as two PEM files, the key with mode 0600, each replaced atomically;
     * refuses to overwrite either unless {@code replace}.
     */
    public static void write(Issued issued, Path cert, Path key, boolean replace) throws IOException {
        if (!replace && (Files.exists(cert) || Files.exists(key))) {
            throw new IllegalStateException((Files.exists(cert) ? cert : key) + " exists already; keep it, or remove it first");
        }
        try {
            writeFile(key, pem("PRIVATE KEY", issued.key().getEncoded()), "rw-------");
            writeFile(cert, pem("CERTIFICATE", issued.certificate().getEncoded()), "rw-r--r--");
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot encode " + cert + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code text} to {@code file} with {@code mode} from its creation on, atomically and durably. */
    private static void writeFile(Path file, String text, String mode) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        DurableFiles.createDirectories(dir); // the folder's own entry too: a power cut must not take tls/ away
        Path tmp = dir.resolve(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        DurableFiles.syncDirectory(dir);
    }

    /** Writes a certificate (a CA's, for a node's {@code ca.crt}) as PEM, atomically and durably. */
    public static void writeCertificate(X509Certificate c, Path file) throws IOException {
        try {
            writeFile(file, pem(c), "rw-r--r--");
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot encode " + file + ": " + e.getMessage(), e);
        }
    }

    /** A certificate as PEM text. */
    public static String pem(X509Certificate c) throws GeneralSecurityException {
        return pem("CERTIFICATE", c.getEncoded());
    }

    static String pem(String type, byte[] der) {
        StringWriter w = new StringWriter();
        w.write("-----BEGIN " + type + "-----\n");
        w.write(Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der));
        w.write("\n-----END " + type + "-----\n");
        return w.toString();
    }

    /**
     * BouncyCastle's key generator (not registered as a provider): its PKCS#8 encoding names the
     * curve and carries the public key inside the private key too, which GnuTLS (qemu, libnbd)
     * requires; the JDK's leaves both out.
     */
    private static final java.security.Provider BC = new org.bouncycastle.jce.provider.BouncyCastleProvider();

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC", BC);
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
                    .build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign: " + e.getMessage(), e);
        }
    }
}
