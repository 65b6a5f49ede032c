package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.freePort;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import io.tern.testing.TargetTempDirFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (the Debian package {@code prometheus}) scrapes the {@code /metrics} of a
 * primary and its secondary every second. While replay is paused on the secondary and the primary
 * takes writes, the lag Prometheus stores rises, on both sides (the primary's
 * {@code tern_replication_lag_records} of that member, the secondary's
 * {@code tern_replay_lag_records}); after resume it falls back to 0 and the replay rate shows.
 * Every metric the Grafana dashboard in {@code docs/} queries is one Prometheus holds.
 * Prometheus's config, data and log stay in the test's folder under {@code target/test-data}.
 */
class PrometheusTest {
    private static final String RES = "r0";
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");
    /** A metric name as PromQL writes it: Tern's all start with tern_. */
    private static final Pattern METRIC = Pattern.compile("\\btern_[a-zA-Z0-9_]+");

    @TempDir(factory = TargetTempDirFactory.class)
    Path dir;
    private int prometheusPort;

    @Test
    void lagRisesWhileReplayIsPausedAndFallsAfterResumeAndTheDashboardQueriesOnlyScrapedMetrics() throws Exception {
        assertThat(Files.isExecutable(PROMETHEUS))
                .as("%s is not installed: run scripts/install-deps ops (the Debian package prometheus)", PROMETHEUS)
                .isTrue();
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "16M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            awaitCaughtUp(a, RES, Duration.ofSeconds(60), b);

            Process prometheus = startPrometheus(a, b);
            try {
                String api = "http://127.0.0.1:" + prometheusPort;
                // Refused until Prometheus has bound its port: keep asking.
                await("prometheus ready").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                        .ignoreException(java.net.ConnectException.class)
                        .until(() -> get(api + "/-/ready").statusCode() == 200);
                await("both nodes scraped").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                        .until(() -> values(api, "up == 1").size() == 2);
                String primaryLag = "tern_replication_lag_records{resource=\"r0\",peer=\"b\",node=\"a\"}";
                String secondaryLag = "tern_replay_lag_records{resource=\"r0\",node=\"b\"}";
                await("the primary's lag of b is scraped, at 0").atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(500)).until(() -> values(api, primaryLag).equals(List.of(0.0)));

                tern(b, "pause", "replay", RES);
                try (Workload load = new Workload(a::nbdAddress, RES, 16L << 20, Seeds.seed("PrometheusTest")).start()) {
                    load.awaitMore(200, 60);
                }
                await("the lag rises in Prometheus while replay is paused").atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(500))
                        .until(() -> !values(api, primaryLag + " > 0").isEmpty()
                                && !values(api, secondaryLag + " > 0").isEmpty()
                                && !values(api, "tern_replication_lag_seconds{resource=\"r0\",peer=\"b\"} > 0").isEmpty());

                tern(b, "resume", "replay", RES);
                await("the lag falls to 0 after resume").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                        .until(() -> values(api, primaryLag).equals(List.of(0.0))
                                && values(api, secondaryLag).equals(List.of(0.0)));
                await("replay shows as a rate").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                        .until(() -> !values(api, "increase(tern_replay_records_total{resource=\"r0\"}[1m]) > 0").isEmpty());

                Set<String> queried = dashboardMetrics(Path.of("..", "docs", "grafana-dashboard.json"));
                assertThat(queried).as("metrics the dashboard queries").isNotEmpty();
                Set<String> held = new TreeSet<>();
                JsonNode names = JSON.readTree(get(api + "/api/v1/label/__name__/values").body()).get("data");
                names.forEach(n -> held.add(n.asText()));
                held.addAll(scrapedNames(a));
                held.addAll(scrapedNames(b));
                assertThat(held).as("every metric the dashboard queries is in Prometheus or a scrape")
                        .containsAll(queried);
            } finally {
                prometheus.destroy();
                if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly().waitFor();
                }
            }
        }
    }

    /** Prometheus scraping both nodes every second, its data and log in the test's folder. */
    private Process startPrometheus(TernNode a, TernNode b) throws IOException {
        prometheusPort = freePort();
        Path home = dir.resolve("prometheus");
        Files.createDirectories(home);
        Path config = home.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: tern
                    metrics_path: /metrics
                    static_configs:
                      - targets: ['%s']
                        labels:
                          node: a
                      - targets: ['%s']
                        labels:
                          node: b
                """.formatted(hostPort(a), hostPort(b)));
        Path log = home.resolve("prometheus.log");
        return new ProcessBuilder(PROMETHEUS.toString(), "--config.file=" + config,
                "--storage.tsdb.path=" + home.resolve("data"), "--web.listen-address=127.0.0.1:" + prometheusPort,
                "--log.level=info")
                .directory(home.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static String hostPort(TernNode node) {
        return node.httpAddress().getHostString() + ":" + node.httpAddress().getPort();
    }

    private static HttpResponse<String> get(String uri) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The values of an instant query's vector result, in the order Prometheus gives them. */
    private List<Double> values(String api, String query) throws IOException, InterruptedException {
        HttpResponse<String> r = get(api + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8));
        assertThat(r.statusCode()).as("query %s: %s", query, r.body()).isEqualTo(200);
        JsonNode data = JSON.readTree(r.body()).get("data");
        assertThat(data.get("resultType").asText()).as("query %s", query).isEqualTo("vector");
        List<Double> values = new ArrayList<>();
        data.get("result").forEach(s -> values.add(Double.parseDouble(s.get("value").get(1).asText())));
        return values;
    }

    /** Every tern_ metric name in the dashboard's queries: panel targets' expr and templating queries. */
    static Set<String> dashboardMetrics(Path dashboard) throws IOException {
        JsonNode root = JSON.readTree(Files.readString(dashboard));
        Set<String> names = new TreeSet<>();
        List<String> queries = new ArrayList<>();
        collectQueries(root, queries);
        for (String q : queries) {
            Matcher m = METRIC.matcher(q);
            while (m.find()) {
                names.add(m.group());
            }
        }
        return names;
    }

    private static void collectQueries(JsonNode node, List<String> into) {
        if (node.isObject()) {
            node.fields().forEachRemaining(e -> {
                JsonNode v = e.getValue();
                if ((e.getKey().equals("expr") || e.getKey().equals("query")) && v.isTextual()) {
                    into.add(v.asText());
                } else if (e.getKey().equals("query") && v.isObject() && v.has("query")) {
                    into.add(v.get("query").asText());
                } else {
                    collectQueries(v, into);
                }
            });
        } else if (node.isArray()) {
            node.forEach(n -> collectQueries(n, into));
        }
    }

    /** The metric names of one scrape of the node's {@code /metrics}. */
    private static Set<String> scrapedNames(TernNode node) throws IOException, InterruptedException {
        Set<String> names = new TreeSet<>();
        for (String line : node.http("GET", "/metrics").split("\n")) {
            if (!line.isEmpty() && !line.startsWith("#")) {
                int end = 0;
                while (end < line.length() && (Character.isLetterOrDigit(line.charAt(end)) || line.charAt(end) == '_'
                        || line.charAt(end) == ':')) {
                    end++;
                }
                names.add(line.substring(0, end));
            }
        }
        return names;
    }
}
