package io.tern.system;

import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.sha256;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import io.tern.harness.TernNode;
import io.tern.testing.ExternalTool;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD over TLS (STARTTLS) with real clients: qemu-img writes an image into the export and reads
 * it back, nbdcopy reads it, all with a client certificate of the cluster's CA made by
 * {@code tern cert issue --layout qemu}; a client without credentials, or with another CA's, is
 * refused and changes nothing.
 */
class NbdTlsTest {
    private static final String RES = "r0";
    private static final long SIZE = 16L << 20;

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;

    @Test
    void qemuImgRoundTripsAnImageOverTlsAndAClientWithoutCredentialsIsRefused() throws Exception {
        try (TernNode a = init(dir, "a", "c1")) {
            Path ca = dir.resolve("ca");
            Path other = dir.resolve("other-ca");
            assertThat(a.command(60, "cert", "ca", "--dir", ca.toString(), "--cluster", "c1")).isZero();
            assertThat(a.command(60, "cert", "ca", "--dir", other.toString(), "--cluster", "c1")).isZero();
            // qemu and libnbd check the server's name: the certificate names the address they dial.
            tern(a, "cert", "issue", "a", "--ca", ca.toString(), "--replace", "--san", "127.0.0.1,localhost");
            Files.writeString(a.home().resolve("node.properties"), "nbd_tls=on\n", StandardOpenOption.APPEND);
            Path client = dir.resolve("client-tls");
            Path stranger = dir.resolve("stranger-tls");
            assertThat(a.command(60, "cert", "issue", "vmhost", "--ca", ca.toString(), "--out", client.toString(),
                    "--layout", "qemu")).isZero();
            assertThat(a.command(60, "cert", "issue", "vmhost", "--ca", other.toString(), "--out", stranger.toString(),
                    "--layout", "qemu")).isZero();
            assertThat(client.resolve("ca-cert.pem")).exists();
            assertThat(client.resolve("client-cert.pem")).exists();
            assertThat(client.resolve("client-key.pem")).exists();
            a.start();
            tern(a, "create", RES, "--size", "16M");
            int port = a.nbdAddress().getPort();

            Path image = dir.resolve("image.raw");
            byte[] bytes = new byte[(int) SIZE];
            new Random(Seeds.seed("NbdTlsTest")).nextBytes(bytes);
            Files.write(image, bytes);
            String want = sha256(image);
            String before = exportSha(a, client);

            // Without credentials: refused (TLS required), nothing written.
            ExternalTool.Result plain = ExternalTool.run(dir, 60, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw",
                    image.toString(), "nbd://127.0.0.1:" + port + "/" + RES);
            assertThat(plain.exitCode()).as("qemu-img without TLS: %s", plain.stderr()).isNotZero();
            assertThat(plain.stderr()).containsIgnoringCase("TLS");
            ExternalTool.Result info = ExternalTool.run(dir, 60, "nbdinfo", "nbd://127.0.0.1:" + port + "/" + RES);
            assertThat(info.exitCode()).as("nbdinfo without TLS: %s", info.stderr()).isNotZero();
            // With a certificate of another CA: the handshake fails, nothing written.
            ExternalTool.Result foreign = ExternalTool.run(dir, 60, "qemu-img", "convert", "-n", "-f", "raw",
                    "--object", "tls-creds-x509,id=tls0,dir=" + stranger + ",endpoint=client", image.toString(),
                    "--target-image-opts", target(port, "tls0"));
            assertThat(foreign.exitCode()).as("qemu-img with another CA's certificate: %s", foreign.stderr()).isNotZero();
            assertThat(exportSha(a, client)).as("the export after the refused writes").isEqualTo(before);

            // With the cluster's CA: qemu-img writes the image in, qemu-img and nbdcopy read it back.
            ExternalTool.Result in = ExternalTool.run(dir, 120, "qemu-img", "convert", "-n", "-f", "raw",
                    "--object", "tls-creds-x509,id=tls0,dir=" + client + ",endpoint=client", image.toString(),
                    "--target-image-opts", target(port, "tls0"));
            assertThat(in.exitCode()).as("qemu-img convert into the export over TLS: %s", in.stderr()).isZero();
            assertThat(exportSha(a, client)).as("read back by qemu-img over TLS").isEqualTo(want);
            Path copy = dir.resolve("nbdcopy.raw");
            ExternalTool.Result nbdcopy = ExternalTool.run(dir, 120, "nbdcopy",
                    "nbds://127.0.0.1:" + port + "/" + RES + "?tls-certificates=" + client, copy.toString());
            assertThat(nbdcopy.exitCode()).as("nbdcopy over TLS: %s", nbdcopy.stderr()).isZero();
            assertThat(sha256(copy)).as("read back by nbdcopy over TLS").isEqualTo(want);
            a.stop();
            assertThat(sha256(a.home().resolve("resources/r0/data.img"))).as("the backing file").isEqualTo(want);
        }
    }

    private static String target(int port, String creds) {
        return "driver=nbd,host=127.0.0.1,port=" + port + ",export=" + RES + ",tls-creds=" + creds;
    }

    /** The export's SHA-256, read whole by qemu-img over TLS. */
    private String exportSha(TernNode node, Path client) throws Exception {
        Path out = Files.createTempFile(dir, "export-", ".raw");
        ExternalTool.Result r = ExternalTool.run(dir, 120, "qemu-img", "convert", "-O", "raw",
                "--object", "tls-creds-x509,id=tls0,dir=" + client + ",endpoint=client",
                "--image-opts", target(node.nbdAddress().getPort(), "tls0"), out.toString());
        assertThat(r.exitCode()).as("qemu-img convert out of the export over TLS: %s", r.stderr()).isZero();
        String sha = sha256(out);
        Files.delete(out);
        return sha;
    }
}
