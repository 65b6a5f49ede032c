package io.tern.node;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tern.block.metrics.MeteredDevice;
import io.tern.block.nbd.NbdExport;
import io.tern.block.nbd.NbdExports;
import io.tern.block.nbd.NbdServer;
import io.tern.block.nbd.NbdServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node daemon ({@code tern run}): opens every resource of its home (recovering each log),
 * serves them over NBD (export name = resource name) and answers {@code GET /status} on its
 * admin HTTP address. The addresses it actually bound go to {@code run/daemon.properties}, so
 * {@code tern status} finds it even when a port was 0.
 */
public final class Node implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Node.class);

    private final NodeHome home;
    private final String name;
    private final List<Resource> resources;
    private final NbdServer nbd;
    private final HttpServer http;
    private final PrometheusMeterRegistry metrics;

    private Node(NodeHome home, String name, List<Resource> resources, NbdServer nbd, HttpServer http,
                 PrometheusMeterRegistry metrics) {
        this.home = home;
        this.name = name;
        this.resources = resources;
        this.nbd = nbd;
        this.http = http;
        this.metrics = metrics;
    }

    public static Node start(NodeHome home) throws IOException, InterruptedException {
        String name = home.node();
        List<Resource> resources = new ArrayList<>();
        NbdServer nbd = null;
        HttpServer http = null;
        PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try {
            NbdExports exports = new NbdExports();
            for (String r : home.resources()) {
                Resource res = Resource.open(home, r);
                resources.add(res);
                res.registerMetrics(metrics);
                exports.add(new NbdExport(r, "tern resource " + r + " on " + name,
                        new MeteredDevice(res.device(), metrics, r)));
            }
            metrics.more().counter("tern.nbd.protocol.errors", List.of(), 0, x -> NbdServer.protocolErrors());
            nbd = NbdServer.start(new NbdServerConfig().listen(home.address("nbd").toAddress()), exports);
            http = HttpServer.create(home.address("http").toAddress(), 16);
            Node node = new Node(home, name, resources, nbd, http, metrics);
            http.createContext("/status", node::serveStatus);
            http.createContext("/metrics", node::serveMetrics);
            http.start();
            node.writeRunFile();
            log.info("node {} running: {} resources, NBD on {}, admin HTTP on {}", name, resources.size(),
                    nbd.address(), http.getAddress());
            return node;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (http != null) {
                http.stop(0);
            }
            if (nbd != null) {
                nbd.close();
            }
            resources.forEach(Resource::close);
            throw e;
        }
    }

    public InetSocketAddress nbdAddress() {
        return nbd.address();
    }

    public InetSocketAddress httpAddress() {
        return http.getAddress();
    }

    /** What {@code tern status --json} prints. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", name);
        m.put("running", true);
        m.put("pid", ProcessHandle.current().pid());
        m.put("nbd", nbd.address().getHostString() + ":" + nbd.address().getPort());
        List<Object> rs = new ArrayList<>();
        for (Resource r : resources) {
            rs.add(r.status());
        }
        m.put("resources", rs);
        return m;
    }

    private void serveStatus(HttpExchange ex) throws IOException {
        try (ex) {
            if (!"GET".equals(ex.getRequestMethod())) {
                ex.sendResponseHeaders(405, -1);
                return;
            }
            boolean text = "format=text".equals(ex.getRequestURI().getQuery());
            Map<String, Object> status = status();
            String path = ex.getRequestURI().getPath();
            if (path.startsWith("/status/")) {
                String only = path.substring("/status/".length());
                List<?> matching = ((List<?>) status.get("resources")).stream()
                        .filter(r -> only.equals(((Map<?, ?>) r).get("name"))).toList();
                if (matching.isEmpty()) {
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                status.put("resources", matching);
            }
            byte[] body = (text ? StatusText.render(status) : Json.write(status)).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", text ? "text/plain; charset=utf-8" : "application/json");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private void serveMetrics(HttpExchange ex) throws IOException {
        try (ex) {
            byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private void writeRunFile() throws IOException {
        Files.createDirectories(home.runDir());
        Properties p = new Properties();
        p.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
        p.setProperty("nbd", new HostPort(nbd.address().getHostString(), nbd.address().getPort()).toString());
        p.setProperty("http", new HostPort(http.getAddress().getHostString(), http.getAddress().getPort()).toString());
        NodeHome.store(home.runDir().resolve("daemon.properties"), p);
    }

    /** Stops serving, checkpoints and closes every resource. */
    @Override
    public void close() {
        http.stop(0);
        nbd.close();
        for (Resource r : resources) {
            try {
                r.close();
            } catch (RuntimeException e) {
                log.error("closing resource {}: {}", r.config().name(), e.toString(), e);
            }
        }
        try {
            Files.deleteIfExists(home.runDir().resolve("daemon.properties"));
        } catch (IOException e) {
            log.warn("cannot remove run file: {}", e.toString());
        }
        log.info("node {} stopped", name);
    }
}
