package io.tern.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdminServerTest {
    private static final String TOKEN = "0123abcd";
    private final CountDownLatch release = new CountDownLatch(1);
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private AdminServer server;

    private AdminServer start() throws InterruptedException {
        server = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), Map.of(
                "status", r -> AdminServer.Response.json(200, "{\"path\": \"" + r.path() + "\", \"format\": \""
                        + r.param("format") + "\", \"force\": " + r.has("force") + "}"),
                "slow", r -> {
                    release.await(30, TimeUnit.SECONDS);
                    return AdminServer.Response.text(200, "done\n");
                },
                "boom", r -> {
                    throw new IllegalStateException("handler failed");
                }), TOKEN);
        return server;
    }

    @AfterEach
    void stop() {
        release.countDown();
        if (server != null) {
            server.close();
        }
    }

    private HttpResponse<String> get(String pathAndQuery) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.address().getPort() + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void routesByFirstSegmentAndDecodesTheQuery() throws Exception {
        start();
        HttpResponse<String> r = get("/status/r0?format=text&force");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("application/json");
        assertThat(r.body()).isEqualTo("{\"path\": \"/status/r0\", \"format\": \"text\", \"force\": true}");
        assertThat(get("/nothing").statusCode()).isEqualTo(404);
        assertThat(get("/").statusCode()).isEqualTo(404);
        HttpResponse<String> failed = get("/boom");
        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(failed.body()).contains("handler failed");
        assertThat(get("/status").statusCode()).as("the server goes on after a failed handler").isEqualTo(200);
    }

    @Test
    void aLongCallHoldsUpNothingButItsOwnConnection() throws Exception {
        start();
        CompletableFuture<HttpResponse<String>> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return get("/slow");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        for (int i = 0; i < 20; i++) {
            assertThat(get("/status").statusCode()).isEqualTo(200);
        }
        assertThat(slow).isNotDone();
        release.countDown();
        assertThat(slow.get(10, TimeUnit.SECONDS).body()).isEqualTo("done\n");
    }

    @Test
    void anOversizedOrMalformedRequestIsRefusedAndOthersAreServed() throws Exception {
        start();
        assertThat(raw("GET /status/" + "x".repeat(AdminServer.MAX_LINE + 10) + " HTTP/1.1\r\nHost: a\r\n\r\n"))
                .startsWith("HTTP/1.1 4");
        assertThat(raw("POST /status HTTP/1.1\r\nHost: a\r\nContent-Length: " + (AdminServer.MAX_BODY + 1)
                + "\r\n\r\n")).startsWith("HTTP/1.1 413");
        assertThat(raw("NONSENSE\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertThat(get("/status").statusCode()).isEqualTo(200);
    }

    @Test
    void callsThatChangeTheNodeNeedItsToken() throws Exception {
        start();
        String uri = "http://127.0.0.1:" + server.address().getPort() + "/status/r0";
        HttpResponse<String> none = client.send(HttpRequest.newBuilder(URI.create(uri))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("admin token");
        HttpResponse<String> wrong = client.send(HttpRequest.newBuilder(URI.create(uri)).header("Authorization",
                "Bearer 0123abce").POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(wrong.statusCode()).isEqualTo(401);
        HttpResponse<String> right = client.send(HttpRequest.newBuilder(URI.create(uri)).header("Authorization",
                "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(right.statusCode()).isEqualTo(200);
        assertThat(get("/status/r0").statusCode()).as("reading needs no token").isEqualTo(200);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        start();
        String answers = raw("GET /status/first HTTP/1.1\r\nHost: a\r\n\r\nGET /status/second HTTP/1.1\r\nHost: a\r\n"
                + "Connection: close\r\n\r\n");
        assertThat(answers.indexOf("/status/first")).isPositive().isLessThan(answers.indexOf("/status/second"));
    }

    /** Sends raw bytes and returns everything the server answered until it closed or 5 s passed. */
    private String raw(String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.address().getPort())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder b = new StringBuilder();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    b.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
            } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
                // the answer is what came before the server stopped talking
            }
            return b.toString();
        }
    }
}
