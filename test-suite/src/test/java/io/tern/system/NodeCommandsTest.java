package io.tern.system;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.TernNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's commands against a real node: init, create, run, status (live and offline), metrics. */
class NodeCommandsTest {
    @TempDir
    Path dir;

    @Test
    void initCreateRunStatusAndMetrics() throws Exception {
        TernNode node = new TernNode(dir);
        String home = dir.toString();
        assertThat(node.command(60, "init", "--home", home, "--node", "a", "--listen", "127.0.0.1:0", "--nbd", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--transport", "plain")).isZero();
        assertThat(node.command(60, "init", "--home", home, "--node", "a")).as("a second init").isEqualTo(1);
        assertThat(node.command(60, "create", "r0", "--size", "8M", "--home", home)).isZero();
        assertThat(node.command(60, "create", "r0", "--size", "8M", "--home", home)).as("the same name again").isEqualTo(1);
        assertThat(node.command(60, "create", "bad/name", "--size", "8M", "--home", home)).as("usage").isEqualTo(2);
        assertThat(node.command(60, "create", "r1", "--size", "12345", "--home", home)).as("not a multiple of 512: usage")
                .isEqualTo(2);
        assertThat(Files.readString(dir.resolve("command.err"))).contains("exists already").contains("multiple of 512");

        assertThat(node.command(60, "status", "--json", "--home", home)).isZero();
        assertThat(Files.readString(dir.resolve("command.out"))).contains("\"running\": false").contains("\"name\": \"r0\"");

        try (node) {
            node.start();
            try (NbdClient c = NbdClient.connect(node.nbdAddress(), "r0")) {
                for (int i = 0; i < 10; i++) {
                    c.write(i * 4096L, new byte[4096], false).get(10, TimeUnit.SECONDS);
                }
            }
            Files.deleteIfExists(dir.resolve("command.out"));
            assertThat(node.command(60, "status", "r0", "--json", "--home", home)).isZero();
            String json = Files.readString(dir.resolve("command.out"));
            // The log holds the EPOCH record that started the primary's first term (lsn 1) and the 10 writes.
            assertThat(json).contains("\"running\": true").contains("\"role\": \"Primary\"").contains("\"disk\": \"UpToDate\"")
                    .contains("\"logged_lsn\": 11").contains("\"replayed_lsn\": 11").contains("\"split_brain\": false")
                    .contains("\"epoch\": 1").contains("\"chain_head_node\": \"a\"");
            assertThat(node.command(60, "status", "nope", "--home", home)).as("no such resource").isEqualTo(4);

            // Only the home's owner acts on the node: the home is 0700, the admin token 0600, and a
            // call that changes the node without the token is refused and changes nothing.
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
                    .isEqualTo("rwx------");
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(dir.resolve("admin.token")))).isEqualTo("rw-------");
            HttpResponse<String> refused = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + node.httpAddress().getPort() + "/resources/r0/adjust?log-quota=1G"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(401);
            assertThat(node.resource("r0").get("log_quota_bytes")).as("nothing changed")
                    .isNotEqualTo(1L << 30);
            assertThat(node.command(60, "adjust", "r0", "--log-quota", "1G", "--home", home)).as("tern sends the token")
                    .isZero();
            assertThat(node.resource("r0").get("log_quota_bytes")).isEqualTo(1L << 30);

            String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + node.httpAddress().getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("tern_block_requests_seconds_count{op=\"write\",resource=\"r0\"} 10")
                    .contains("tern_log_logged_lsn{resource=\"r0\"} 11.0");
            node.stop();
        }
        Files.deleteIfExists(dir.resolve("command.out"));
        assertThat(node.command(60, "status", "--json", "--home", home)).isZero();
        assertThat(Files.readString(dir.resolve("command.out"))).contains("\"running\": false").contains("\"checkpoint_lsn\": 11");
    }
}
