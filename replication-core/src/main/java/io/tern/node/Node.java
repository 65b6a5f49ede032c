package io.tern.node;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;


import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tern.block.metrics.MeteredDevice;
import io.tern.block.nbd.NbdExport;
import io.tern.block.nbd.NbdExports;
import io.tern.block.nbd.NbdServer;
import io.tern.block.nbd.NbdServerConfig;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;
import io.tern.replication.ship.ReplicationServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node daemon ({@code tern run}): opens every resource of its home (recovering each log),
 * serves them over NBD (export name = resource name; read-only where this node is a secondary),
 * listens for replication peers (one listener for every resource, HELLO says which), and answers
 * on its admin HTTP address:
 * <pre>
 *  GET  /status[/RES][?format=text]   what {@code tern status} prints
 *  GET  /metrics                      Prometheus
 *  POST /resources/RES/open           serve a resource made by create or join while running
 *  POST /resources/RES/pause-replay   stop replay at a record boundary ({@code tern pause replay})
 *  POST /resources/RES/resume-replay
 *  POST /resources/RES/pause-fetch    stop pulling the log ({@code tern pause fetch}); resume-fetch
 *  POST /resources/RES/pause-sync     stop a full sync where it is ({@code tern pause sync}); resume-sync
 *  POST /resources/RES/adjust?log-quota=SIZE  a new log quota, stored and applied at once ({@code tern adjust})
 *  POST /resources/RES/verify[?repair] online verify of a secondary against its primary ({@code tern verify})
 *  POST /resources/RES/primary[?force[&allow-inconsistent]]  handover (or forced failover) to this node
 *  POST /resources/RES/secondary[?peer=H:P]                  this primary steps down and follows
 *  POST /resources/RES/invalidate                            discard this node's side of a split brain
 *  POST /tls/reload                   reread certificate, key, CA and members ({@code tern cert reload}, SIGHUP)
 * </pre>
 * The addresses it actually bound go to {@code run/daemon.properties}, so {@code tern status}
 * finds it even when a port was 0.
 */
public final class Node implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Node.class);

    private final NodeHome home;
    /** The replication address published for the other members ({@code --advertise}), or null: the bound listen address. */
    private String advertised;
    private final String name;
    private final Map<String, Resource> resources = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final Map<String, ResourceMesh> meshes = new java.util.concurrent.ConcurrentHashMap<>();
    /** Role changes the mesh asks for, one at a time, off the tick thread. */
    private final java.util.concurrent.ExecutorService roleChanges =
            java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "tern-role");
                t.setDaemon(true);
                return t;
            });
    private final java.util.Set<String> roleChangePending = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final NbdExports exports = new NbdExports();
    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final java.util.concurrent.ScheduledExecutorService ticker =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "tern-node-tick");
                t.setDaemon(true);
                return t;
            });
    private NbdServer nbd;
    private AdminServer http;
    private NodeMetrics nodeMetrics;
    private io.tern.events.EventJournal events;
    private io.tern.events.StateWatcher watcher;
    private ReplicationServer replication;
    /** How replication and link sessions travel (TLS unless the home says plain). */
    private io.tern.security.Transport transport = io.tern.security.Transport.plain();

    private Node(NodeHome home, String name) {
        this.home = home;
        this.name = name;
    }

    public static Node start(NodeHome home) throws IOException, InterruptedException {
        Node node = new Node(home, home.node());
        try {
            node.transport = home.transport();
            HostPort advertise = home.advertised();
            node.advertised = advertise.equals(home.address("listen")) ? null : advertise.toString();
            node.openJournal();
            for (String r : home.resources()) {
                node.open(r);
            }
            node.metrics.more().counter("tern.nbd.protocol.errors", List.of(), 0, x -> NbdServer.protocolErrors());
            node.replication = ReplicationServer.start(home.address("listen").toAddress(), home.cluster(),
                    new ReplicationServer.Directory() {
                        @Override
                        public io.tern.replication.ship.LogShipper shipper(String resource) {
                            return node.shipper(resource);
                        }

                        @Override
                        public io.tern.replication.ship.MeshMember member(String resource) {
                            return node.meshes.get(resource);
                        }
                    }, node.transport);
            node.metrics.more().counter("tern.replication.protocol.errors", List.of(), node.replication,
                    ReplicationServer::protocolErrors);
            node.metrics.more().counter("tern.replication.links.refused", List.of(), 0, x -> ReplicationServer.linksRefused());
            node.metrics.more().counter("tern.replication.tls.refused", List.of(io.micrometer.core.instrument.Tag.of(
                    "reason", "handshake")), node.transport, io.tern.security.Transport::handshakeFailures);
            node.metrics.more().counter("tern.replication.tls.refused", List.of(io.micrometer.core.instrument.Tag.of(
                    "reason", "peer")), node.transport, io.tern.security.Transport::peersRefused);
            node.metrics.more().counter("tern.replication.connections.refused", List.of(), node.replication,
                    ReplicationServer::connectionsRefused);
            NbdServerConfig nbdConfig = new NbdServerConfig().listen(home.address("nbd").toAddress());
            if (home.nbdTls()) {
                if (!node.transport.isTls()) {
                    throw new IllegalStateException("NBD over TLS needs this node's certificate, and it runs with "
                            + "transport=plain: issue one (tern cert issue), or set nbd_tls=off in node.properties to "
                            + "serve plain NBD on " + home.address("nbd"));
                }
                io.tern.security.Transport t = node.transport;
                nbdConfig.tls(t::nbdServer);
                log.info("NBD on {} requires TLS (STARTTLS) with a certificate of the cluster's CA", home.address("nbd"));
            } else if (!NodeHome.isLoopback(home.address("nbd").host())) {
                log.warn("NBD on {} is plain (nbd_tls=off): anyone who reaches it reads and writes the exports",
                        home.address("nbd"));
            }
            node.nbd = NbdServer.start(nbdConfig, node.exports);
            node.nodeMetrics = NodeMetrics.bind(node.metrics, node.nbd, node.replication);
            if (home.makePrivate()) {
                log.warn("node home {} was open to other users; it is 0700 now (links, logs, data and the admin "
                        + "token inside are the owner's alone)", home.dir());
            }
            node.http = AdminServer.start(home.address("http").toAddress(), Map.of("status", node::serveStatus,
                    "metrics", node::serveMetrics, "resources", node::serveResourceAction, "tls", node::serveTls),
                    home.adminToken());
            node.ticker.execute(io.tern.replication.protocol.BlockDigest::warmUp);
            node.ticker.scheduleWithFixedDelay(node::tick, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
            node.ticker.scheduleWithFixedDelay(() -> node.resources.values().forEach(Resource::sample), 100, 100,
                    java.util.concurrent.TimeUnit.MILLISECONDS);
            node.ticker.scheduleWithFixedDelay(node::watch, 0, 250, java.util.concurrent.TimeUnit.MILLISECONDS);
            node.ticker.scheduleWithFixedDelay(node::pruneJournal, 1, 60, java.util.concurrent.TimeUnit.MINUTES);
            node.writeRunFile();
            node.event(null, null, "node", null, "running", "replication " + node.replication.address() + ", NBD "
                    + node.nbd.address() + ", admin HTTP " + node.http.address() + ", pid " + ProcessHandle.current().pid());
            log.info("node {} running: {} resources, replication on {}, NBD on {}, admin HTTP on {}", node.name,
                    node.resources.size(), node.replication.address(), node.nbd.address(), node.http.address());
            return node;
        } catch (IOException | InterruptedException | RuntimeException e) {
            node.close();
            throw e;
        }
    }

    /**
     * Opens the event journal of the home. One that cannot be opened is logged and the node runs
     * without it: events are a record for people, not state the node depends on.
     */
    private void openJournal() throws IOException {
        java.time.Duration retention = home.eventsRetention();
        watcher = new io.tern.events.StateWatcher(name, this::journal); // transitions are logged even without a journal
        try {
            events = io.tern.events.EventJournal.open(home.dir().resolve(io.tern.events.EventJournal.DIR), retention);
        } catch (IOException | RuntimeException e) {
            log.error("the event journal in {} cannot be opened; the node runs without it: {}",
                    home.dir().resolve(io.tern.events.EventJournal.DIR), e.toString(), e);
            return;
        }
        metrics.more().counter("tern.events.written", List.of(), events, io.tern.events.EventJournal::written);
        metrics.more().counter("tern.events.dropped", List.of(), events, io.tern.events.EventJournal::dropped);
        events.prune(java.time.Instant.now());
    }

    /** Records an event of this node in its journal (if it has one) and in the log. */
    void event(String resource, String peer, String type, String from, String to, String reason) {
        journal(new io.tern.events.Event(java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS), name,
                resource, peer, type, from, to, reason));
    }

    /** Every state transition is one line of the log and one entry of the journal. */
    private void journal(io.tern.events.Event e) {
        if (events != null) {
            events.record(e);
        }
        if (!e.type().equals("action")) { // an action's outcome is logged where it is decided
            try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(e.resource(), e.peer())) {
                log.info("{}", e.describe());
            }
        }
    }

    /** Compares every resource's status with the last one seen and journals what changed. */
    private void watch() {
        try {
            List<Map<String, Object>> all = new ArrayList<>();
            for (Resource r : resources.values()) {
                all.add(r.status());
            }
            watcher.observe(all, java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
        } catch (RuntimeException e) {
            log.warn("event watcher: {}", e.toString());
        }
    }

    private void pruneJournal() {
        if (events != null) {
            events.prune(java.time.Instant.now());
        }
    }

    /**
     * Opens a resource of the home and serves it; false if it is served already. A resource that
     * cannot be opened is kept as {@link FailedResource} (status shows why); opening it again
     * after the operator repaired it retries.
     */
    public synchronized boolean open(String resource) throws IOException {
        Resource existing = resources.get(resource);
        if (existing != null && !(existing instanceof FailedResource)) {
            return false;
        }
        serve(resource, openOrFailed(resource));
        return true;
    }

    /** Opens a resource as its configuration says; one that cannot be opened comes back as {@link FailedResource}. */
    private Resource openOrFailed(String resource) throws IOException {
        try {
            return Resource.open(home, resource, mesh(resource).links(), transport);
        } catch (IOException | RuntimeException e) {
            // One resource that cannot be opened never stops the node's others: it is shown Failed.
            log.error("resource {} failed to open and is not served: {}", resource, e.getMessage(), e);
            ResourceConfig config;
            try {
                config = ResourceConfig.load(home.resourceDir(resource));
            } catch (IOException | RuntimeException unreadable) {
                config = new ResourceConfig(resource, 0, home.resourceDir(resource), ResourceConfig.Role.Primary, 0,
                        io.tern.block.logged.Durability.SYNC, null, ResourceConfig.Pull.DEFAULT, LogSegment.DEFAULT, 0);
            }
            return new FailedResource(config, e);
        }
    }

    /** Lists a resource, its gauges and (unless it failed) its NBD export. */
    private void serve(String resource, Resource res) {
        removeMeters(resource); // gauges of an earlier object of this resource (a role change ago) read a closed one
        resources.put(resource, res);
        if (res instanceof FailedResource) {
            return;
        }
        res.registerMetrics(metrics);
        String role = res.config().role() == ResourceConfig.Role.Primary ? "primary" : "secondary (read-only)";
        exports.add(new NbdExport(resource, "tern resource " + resource + " on " + name + ", " + role,
                new MeteredDevice(res.exportDevice(), metrics, resource)));
    }

    private void removeMeters(String resource) {
        for (io.micrometer.core.instrument.Meter m : List.copyOf(metrics.getMeters())) {
            if (resource.equals(m.getId().getTag("resource"))) {
                metrics.remove(m);
            }
        }
    }

    /** What a role change does between closing a resource's object and opening it again. */
    @FunctionalInterface
    private interface Reconfigure {
        void run() throws IOException;
    }

    /**
     * Closes {@code old}, lets {@code reconfigure} change the resource's files, and serves it
     * again as they now say. The resource stays listed throughout (its status reads the closed
     * object for that moment); its export is gone in between, so NBD clients reconnect.
     */
    private void switchRole(String resource, Resource old, Reconfigure reconfigure) throws IOException {
        exports.remove(resource);
        old.close();
        reconfigure.run();
        serve(resource, openOrFailed(resource));
    }

    /**
     * {@code tern primary RES [--force]}: this secondary becomes the resource's primary.
     * <ul>
     *   <li>Handover (no {@code force}): the current primary, reached over the mesh, stops taking
     *       writes and says where its log ends; this node receives and replays up to there, then
     *       starts the next epoch; the old primary sees it and follows by itself. Refused with the
     *       reason when the primary cannot be reached or refuses.</li>
     *   <li>Forced failover ({@code force}): from what this node holds, without the old primary.
     *       Refused while its disk is Inconsistent unless {@code allowInconsistent}, and while
     *       Failed.</li>
     * </ul>
     * Either way it stops pulling, replays everything it received, and opens as primary, which
     * starts a new epoch ({@link PrimaryResource}); its export turns read-write.
     *
     * @return what was done, for the operator
     * @throws IllegalArgumentException if there is no such resource
     * @throws IllegalStateException    if refused, with the reason
     */
    public synchronized String promote(String resource, boolean force, boolean allowInconsistent)
            throws IOException, InterruptedException {
        Resource r = resources.get(resource);
        if (r == null) {
            throw new IllegalArgumentException("no resource '" + resource + "' on node " + name);
        }
        if (r instanceof PrimaryResource p) {
            return resource + ": node " + name + " is its primary already (epoch " + p.history().epoch() + ")";
        }
        if (!(r instanceof SecondaryResource s)) {
            throw new IllegalStateException(resource + " failed to open on node " + name + "; repair it first");
        }
        String disk = s.disk();
        if (disk.equals("Failed")) {
            throw new IllegalStateException(resource + ": the disk on node " + name + " is Failed; it cannot become primary");
        }
        if (!force && s.copying()) {
            // Refused before the primary is asked to stop taking writes: a copy in progress is no image of it.
            Object copied = s.status().get("sync") instanceof Map<?, ?> sync ? sync.get("copied_bytes") : null;
            throw new IllegalStateException(resource + ": node " + name + " is still copying its full sync ("
                    + copied + " of " + s.config().size() + " bytes): it holds no image of the primary yet. Wait until "
                    + "tern status shows it UpToDate, or make it primary anyway with tern primary " + resource
                    + " --force --allow-inconsistent");
        }
        long until = 0;
        String how;
        if (force) {
            how = "forced failover";
        } else {
            ResourceMesh m = meshes.get(resource);
            String primary = m == null ? null : m.currentPrimary();
            if (primary == null) {
                String why = promotableWithoutPrimary(m, s);
                if (why.startsWith("!")) {
                    throw new IllegalStateException(resource + ": the primary cannot be reached from node " + name
                            + " (no mesh session with it), so it cannot hand over (" + why.substring(1) + "); tern primary "
                            + resource + " --force makes this node primary from what it holds (a forced failover)");
                }
                how = why;
            } else {
                Messages.Handover answer;
                try {
                    answer = m.requestHandover(primary).get(60, java.util.concurrent.TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    throw new IllegalStateException(resource + ": the primary " + primary + " did not answer the handover: "
                            + (e.getCause() != null ? e.getCause().getMessage() : e.toString()));
                }
                if (answer.kind() != Messages.HandoverKind.READY) {
                    throw new IllegalStateException(resource + ": the primary " + primary + " refused the handover: "
                            + answer.reason());
                }
                until = answer.lsn();
                how = "handover from " + primary;
                log.info("{}: {} stopped taking writes at lsn {}; replaying to there", resource, primary, until);
            }
        }
        disk = s.disk();
        if (disk.equals("Inconsistent") && !allowInconsistent && force) {
            throw new IllegalStateException(resource + ": the disk on node " + name + " is Inconsistent (a sync or "
                    + "replay is incomplete): as primary it would serve a half-copied image. Add --allow-inconsistent "
                    + "to promote it anyway");
        }
        long epochBefore = s.history().epoch();
        log.warn("{}: {}: node {} becomes primary (disk {}, epoch {})", resource, how, name, disk, epochBefore);
        long replayed;
        try {
            replayed = s.drain(until, java.time.Duration.ofMinutes(10));
        } catch (IllegalStateException e) {
            // It may have stopped pulling already: serve it again as the secondary it still is.
            switchRole(resource, s, () -> { });
            throw new IllegalStateException(resource + ": node " + name + " cannot take over: " + e.getMessage()
                    + "; it stays a secondary", e);
        }
        java.nio.file.Path dir = home.resourceDir(resource);
        switchRole(resource, s, () -> {
            Files.deleteIfExists(dir.resolve(SecondaryResource.SPLIT_BRAIN_FILE));
            s.config().withRole(ResourceConfig.Role.Primary, epochBefore + 1, null).store(dir);
        });
        Resource now = resources.get(resource);
        if (!(now instanceof PrimaryResource p)) {
            throw new IllegalStateException(resource + ": node " + name + " could not open as primary: "
                    + now.status().get("error"));
        }
        io.tern.replication.history.Version head = p.history().head();
        return resource + ": node " + name + " is primary in " + head + "; " + how + " at lsn " + replayed
                + " (disk was " + disk + ")";
    }

    /**
     * Whether this secondary may become primary without a handover because there is no primary
     * at all (a cluster manager demoted the last one): every member this node knows has a mesh
     * session with it now, none is a primary, and none holds a record this node lacks, so nothing
     * acknowledged anywhere is left behind and no history forks. Returns what was checked, for
     * the operator, or {@code "!"} and why not.
     */
    private String promotableWithoutPrimary(ResourceMesh m, SecondaryResource s) {
        if (m == null) {
            return "!no mesh for the resource";
        }
        java.util.Set<String> members = m.addresses().keySet();
        Map<String, Messages.State> heard = m.peerStates();
        if (members.isEmpty()) {
            return "!this node knows no other member";
        }
        io.tern.replication.history.History mine = s.history();
        long myLast = s.receivedLsn();
        for (String member : members) {
            Messages.State st = heard.get(member);
            if (st == null) {
                return "!member " + member + " is not connected, and it may hold records this node lacks";
            }
            if (st.role() == Messages.Role.PRIMARY) {
                return "!member " + member + " says it is a primary, of an epoch no higher than another's";
            }
            io.tern.replication.history.History.Divergence d = io.tern.replication.history.History.compare(mine, myLast,
                    io.tern.replication.history.History.of(st.history()), st.lastLsn());
            if (d.theirsPast() > 0) {
                return "!member " + member + " holds " + d.theirsPast() + " records past lsn " + d.commonLsn()
                        + " that this node lacks";
            }
        }
        return "promotion with no primary: every member (" + String.join(", ", members) + ") is connected, none is "
                + "primary, and none holds a record this node lacks";
    }

    /**
     * {@code tern secondary RES [--peer H:P]}: this primary steps down. It stops taking writes
     * (its export turns read-only), checkpoints, and follows the primary at {@code peer} from its
     * own log's end — without {@code peer}, the primary the mesh knows, or, when there is none
     * yet, whoever becomes primary. If the two histories forked, both report a split brain and
     * nothing moves.
     */
    public synchronized String demote(String resource, String peer, String why) throws IOException {
        Resource r = resources.get(resource);
        if (r == null) {
            throw new IllegalArgumentException("no resource '" + resource + "' on node " + name);
        }
        if (r instanceof SecondaryResource) {
            return resource + ": node " + name + " is a secondary already";
        }
        if (!(r instanceof PrimaryResource p)) {
            throw new IllegalStateException(resource + " failed to open on node " + name + "; repair it first");
        }
        HostPort target;
        if (peer != null && !peer.isBlank()) {
            target = HostPort.parse(peer);
        } else {
            ResourceMesh m = meshes.get(resource);
            target = m == null ? null : m.currentPrimaryAddress(); // null: none yet, it follows whoever becomes one
        }
        long epoch = p.history().epoch();
        java.nio.file.Path dir = home.resourceDir(resource);
        long[] checkpoint = new long[1];
        switchRole(resource, p, () -> {
            checkpoint[0] = io.tern.block.logged.Checkpoint.load(dir.resolve("checkpoint")).lsn();
            new io.tern.replication.sync.SyncState(io.tern.replication.sync.SyncState.Phase.DONE, checkpoint[0] + 1, 0,
                    checkpoint[0]).store(dir.resolve(SecondaryResource.SYNC_FILE));
            r.config().withRole(ResourceConfig.Role.Secondary, epoch, target).store(dir);
            log.warn("{}: node {} steps down at lsn {} and follows {} ({})", resource, name, checkpoint[0], target, why);
        });
        return resource + ": node " + name + " is a secondary from lsn " + checkpoint[0] + ", "
                + (target == null ? "following whoever becomes primary" : "following " + target);
    }

    /** The resource's mesh, made (with its link store) the first time. */
    private ResourceMesh mesh(String resource) throws IOException {
        ResourceMesh m = meshes.get(resource);
        if (m == null) {
            io.tern.links.LinkStore links = io.tern.links.LinkStore.open(home.resourceDir(resource).resolve("links"), name);
            m = new ResourceMesh(this, resource, name, home.cluster(), home.advertised(), links);
            meshes.put(resource, m);
        }
        return m;
    }

    /** The resource as served now, or {@code null}. */
    Resource resource(String name) {
        return resources.get(name);
    }

    /** Runs a role change the mesh asked for on the role thread, unless one for the resource is pending. */
    void changeRoleLater(String resource, RoleChange change) {
        if (!roleChangePending.add(resource)) {
            return;
        }
        try {
            roleChanges.execute(() -> {
                try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(resource, null)) {
                    String done = change.run();
                    log.info("{}: {}", resource, done);
                    event(resource, null, "action", null, null, "mesh: " + done);
                } catch (Exception e) {
                    log.error("{}: role change failed: {}", resource, e.getMessage(), e);
                    event(resource, null, "action", null, null, "mesh: role change failed: " + e.getMessage());
                } finally {
                    roleChangePending.remove(resource);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            roleChangePending.remove(resource);
        }
    }

    /** A role change; returns what was done. */
    @FunctionalInterface
    interface RoleChange {
        String run() throws Exception;
    }

    /**
     * {@code tern invalidate RES}, on the node whose changes since a split brain are to go: it
     * discards its divergent tail and becomes a secondary of the primary it forked from (the
     * connected primary of the highest epoch). Only the chunks its own log touched past the fork
     * are copied from there (a fuzzy copy: blocks that differ move), and that primary's log from
     * the fork on replays over them, which also brings what the primary changed past the fork;
     * the disk is Inconsistent until replay passes the copy's end. When this node's log no longer
     * reaches back to the fork, a fast full sync runs instead; when the primary's no longer does,
     * the sync falls back to one by itself.
     *
     * @return what was done, for the operator
     * @throws IllegalStateException if refused, with the reason
     */
    public synchronized String invalidate(String resource) throws IOException {
        Resource r = resources.get(resource);
        if (r == null) {
            throw new IllegalArgumentException("no resource '" + resource + "' on node " + name);
        }
        ResourceMesh m = meshes.get(resource);
        String winner = m == null ? null : m.currentPrimary();
        Messages.State theirs = winner == null ? null : m.peerStates().get(winner);
        HostPort at = winner == null ? null : m.addresses().get(winner);
        if (theirs == null || at == null) {
            throw new IllegalStateException(resource + ": no primary can be reached from node " + name
                    + " to resync from (it must be connected on the mesh)");
        }
        io.tern.replication.history.History mine;
        long myLast;
        io.tern.log.TransactionLog myLog;
        if (r instanceof PrimaryResource p) {
            mine = p.history();
            myLast = p.device().log().durableLsn();
            myLog = p.device().log();
        } else if (r instanceof SecondaryResource s) {
            mine = s.history();
            myLast = s.receivedLsn();
            myLog = s.log();
        } else {
            throw new IllegalStateException(resource + " failed to open on node " + name + "; repair it first");
        }
        io.tern.replication.history.History.Divergence d = io.tern.replication.history.History.compare(mine, myLast,
                io.tern.replication.history.History.of(theirs.history()), theirs.lastLsn());
        if (!d.forked()) {
            throw new IllegalStateException(resource + ": node " + name + " has not forked from " + winner + " (its log "
                    + (d.minePast() == 0 ? "is a prefix of " + winner + "'s" : "holds " + winner + "'s whole log")
                    + "): nothing to invalidate");
        }
        long fork = d.commonLsn();
        java.util.BitSet chunks = null;
        long records = 0;
        long bytes = 0;
        if (myLog != null && myLog.firstLsn() <= fork + 1) {
            chunks = new java.util.BitSet();
            try (io.tern.log.LogReader reader = myLog.reader(fork + 1)) {
                io.tern.log.LogRecord rec = new io.tern.log.LogRecord();
                while (reader.next(rec)) {
                    records++;
                    if (rec.op() != io.tern.log.RecordOp.EPOCH && rec.length() > 0) {
                        bytes += rec.length();
                        chunks.set((int) (rec.offset() / SecondaryResource.SYNC_CHUNK),
                                (int) ((rec.offset() + rec.length() - 1) / SecondaryResource.SYNC_CHUNK) + 1);
                    }
                }
            }
        }
        long epoch = mine.epoch();
        java.nio.file.Path dir = home.resourceDir(resource);
        String reason;
        if (chunks != null) {
            reason = "invalidate: split brain with " + winner + " after lsn " + fork + "; " + records + " records ("
                    + bytes + " bytes) of this node past it discarded; copying the " + chunks.cardinality()
                    + " chunks of " + (SecondaryResource.SYNC_CHUNK >> 10) + " KiB they touched (blocks that differ), then "
                    + winner + "'s log from lsn " + (fork + 1);
        } else {
            reason = "invalidate: split brain with " + winner + " after lsn " + fork + "; this node's log no longer "
                    + "holds lsn " + (fork + 1) + ", so a full sync (blocks that differ) runs";
        }
        java.util.BitSet copy = chunks;
        log.warn("{}: {}", resource, reason);
        switchRole(resource, r, () -> {
            Files.deleteIfExists(dir.resolve(SecondaryResource.SPLIT_BRAIN_FILE));
            if (copy != null) {
                new Resync(reason, copy).store(dir.resolve(SecondaryResource.RESYNC_FILE));
                new io.tern.replication.sync.SyncState(io.tern.replication.sync.SyncState.Phase.COPYING, fork + 1, 0, 0)
                        .store(dir.resolve(SecondaryResource.SYNC_FILE));
            } else {
                Files.deleteIfExists(dir.resolve(SecondaryResource.RESYNC_FILE));
                io.tern.replication.sync.SyncState.NEW.store(dir.resolve(SecondaryResource.SYNC_FILE));
            }
            r.config().withRole(ResourceConfig.Role.Secondary, epoch, at).store(dir);
        });
        return resource + ": " + reason;
    }

    /**
     * This secondary follows the primary at {@code address} from now on (the mesh saw a primary
     * of a higher epoch there): its log and disk stay, only the address it pulls from changes.
     */
    synchronized String retarget(String resource, HostPort address, String why) throws IOException {
        Resource r = resources.get(resource);
        if (!(r instanceof SecondaryResource s) || address.equals(s.config().peer())) {
            return "nothing to do";
        }
        switchRole(resource, s, () -> {
            s.config().withRole(ResourceConfig.Role.Secondary, s.history().epoch(), address).store(home.resourceDir(resource));
            log.warn("{}: node {} now follows {} ({})", resource, name, address, why);
        });
        return "following " + address;
    }

    private io.tern.replication.ship.LogShipper shipper(String resource) {
        Resource r = resources.get(resource);
        if (r == null) {
            throw new ProtocolException(ErrorCode.UNKNOWN_RESOURCE, "no resource '" + resource + "' on node " + name);
        }
        if (r.shipper() == null) {
            throw new ProtocolException(ErrorCode.NOT_PRIMARY, "node " + name + " is not the primary of '" + resource + "'");
        }
        return r.shipper();
    }

    private void tick() {
        for (ResourceMesh m : meshes.values()) {
            try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(m.resource(), null)) {
                m.tick();
            } catch (RuntimeException e) {
                log.error("mesh work failed: {}", e.toString(), e);
            }
        }
        for (Resource r : resources.values()) {
            try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(r.config().name(), null)) {
                r.tick();
            } catch (RuntimeException e) {
                log.error("{}: periodic work failed: {}", r.config().name(), e.toString(), e);
            }
        }
    }

    public InetSocketAddress replicationAddress() {
        return replication.address();
    }

    public InetSocketAddress nbdAddress() {
        return nbd.address();
    }

    public InetSocketAddress httpAddress() {
        return http.address();
    }

    /** What {@code tern status --json} prints. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", name);
        m.put("running", true);
        m.put("pid", ProcessHandle.current().pid());
        m.put("cluster", replication.clusterId());
        String listen = replication.address().getHostString() + ":" + replication.address().getPort();
        m.put("listen", listen);
        m.put("advertise", advertised == null ? listen : advertised);
        m.put("nbd", nbd.address().getHostString() + ":" + nbd.address().getPort());
        List<Object> rs = new ArrayList<>();
        for (Resource r : resources.values()) {
            rs.add(r.status());
        }
        m.put("resources", rs);
        return m;
    }

    /** How this node's peer sessions travel. */
    io.tern.security.Transport transport() {
        return transport;
    }

    /**
     * Rereads the certificate, key, CA and member list ({@code tern cert reload}, SIGHUP): new
     * sessions use them, open ones keep theirs, and sessions of a peer no longer a member close.
     */
    public synchronized String reloadTransport() throws IOException {
        if (!transport.isTls()) {
            return "plain TCP (transport=plain): nothing to reload";
        }
        java.util.Set<String> members = home.members();
        transport.reload(members);
        String what = "certificate valid until " + transport.notAfter() + ", members "
                + (members.isEmpty() ? "(any holder of a certificate of the cluster)" : String.join(",", members));
        event(null, null, "tls", null, null, "reloaded: " + what);
        return "reloaded: " + what;
    }

    /** {@code POST /tls/reload}. */
    private AdminServer.Response serveTls(AdminServer.Request req) {
        if (!"POST".equals(req.method()) || !"/tls/reload".equals(req.path())) {
            return AdminServer.Response.text(404, "not found\n");
        }
        try {
            return reply(200, reloadTransport());
        } catch (IOException | RuntimeException e) {
            return reply(409, "cannot reload the TLS material; the node keeps the one it had: " + e.getMessage());
        }
    }

    private AdminServer.Response serveStatus(AdminServer.Request req) {
        if (!"GET".equals(req.method())) {
            return AdminServer.Response.text(405, "GET only\n");
        }
        boolean text = "text".equals(req.param("format"));
        Map<String, Object> status = status();
        if (req.path().startsWith("/status/")) {
            String only = req.path().substring("/status/".length());
            List<?> matching = ((List<?>) status.get("resources")).stream()
                    .filter(r -> only.equals(((Map<?, ?>) r).get("name"))).toList();
            if (matching.isEmpty()) {
                return AdminServer.Response.text(404, "no resource '" + only + "' on node " + name + "\n");
            }
            status.put("resources", matching);
        }
        return text ? AdminServer.Response.text(200, StatusText.render(status))
                : AdminServer.Response.json(200, Json.write(status));
    }

    /** {@code POST /resources/RES/ACTION}: an operator's action, journalled with its outcome. */
    private AdminServer.Response serveResourceAction(AdminServer.Request req) {
        String[] parts = req.path().split("/");
        if (!"POST".equals(req.method()) || parts.length != 4) {
            return AdminServer.Response.text(404, "not found\n");
        }
        String resource = parts[2];
        String action = parts[3];
        AdminServer.Response r;
        try (io.tern.log.Mdc.Scope scope = io.tern.log.Mdc.scope(resource, null)) {
            r = act(req, resource, action);
        }
        // every operator action is journalled with its outcome (a status dump is not an outcome)
        String body = new String(r.body(), StandardCharsets.UTF_8);
        String what = "tern " + action + (req.rawQuery() == null || req.rawQuery().isEmpty() ? "" : " " + req.rawQuery());
        String outcome = body.startsWith("{") ? (r.code() == 200 ? "done" : "") : body.strip();
        if (action.equals("verify") && r.code() == 200) {
            outcome = "report: " + body.replaceAll("\\s+", " ").strip();
        }
        event(resource, null, "action", null, null, what + (r.code() == 200 ? ": " : " refused (" + r.code() + "): ")
                + outcome);
        return r;
    }

    private AdminServer.Response act(AdminServer.Request req, String resource, String action) {
        if (action.equals("open")) {
            try {
                boolean opened = open(resource);
                return reply(200, opened ? "opened " + resource : resource + " is served already");
            } catch (IOException | RuntimeException e) {
                return reply(409, "cannot open " + resource + ": " + e.getMessage());
            }
        }
        if (action.equals("primary") || action.equals("secondary") || action.equals("invalidate")) {
            try {
                String done = switch (action) {
                    case "primary" -> promote(resource, req.has("force"), req.has("allow-inconsistent"));
                    case "secondary" -> demote(resource, req.param("peer"), "tern secondary");
                    default -> invalidate(resource);
                };
                return reply(200, done);
            } catch (IllegalArgumentException e) {
                return reply(404, e.getMessage());
            } catch (IllegalStateException | IOException e) {
                return reply(409, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return reply(503, "interrupted");
            }
        }
        Resource r = resources.get(resource);
        if (r == null) {
            return reply(404, "no resource '" + resource + "' on node " + name);
        }
        switch (action) {
            case "adjust" -> {
                String quota = req.param("log-quota");
                if (quota == null) {
                    return reply(400, "adjust what? (log-quota=SIZE)");
                }
                try {
                    return reply(200, adjustLogQuota(resource, r, "0".equals(quota) ? 0 : Sizes.parse(quota)));
                } catch (IllegalArgumentException | IllegalStateException | IOException e) {
                    return reply(409, e.getMessage());
                }
            }
            case "verify" -> {
                try {
                    return AdminServer.Response.json(200, Json.write(r.verify(req.has("repair"))));
                } catch (IllegalStateException e) {
                    return reply(409, e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return reply(503, "interrupted");
                }
            }
            case "pause-replay", "resume-replay", "pause-fetch", "resume-fetch", "pause-sync", "resume-sync" -> {
                boolean pause = action.startsWith("pause");
                Resource.Pausable what = Resource.Pausable.valueOf(
                        action.substring(action.indexOf('-') + 1).toUpperCase(java.util.Locale.ROOT));
                try {
                    r.pause(what, pause);
                    return AdminServer.Response.json(200, Json.write(r.status()));
                } catch (IllegalStateException | IOException e) {
                    return reply(409, e.getMessage());
                }
            }
            default -> {
                return reply(404, "unknown action '" + action + "'");
            }
        }
    }

    private static AdminServer.Response reply(int code, String line) {
        return AdminServer.Response.text(code, line + "\n");
    }

    /** Stores a new log quota for the resource and applies it at once (the next tick enforces it). */
    private synchronized String adjustLogQuota(String resource, Resource r, long quota) throws IOException {
        ResourceConfig stored = ResourceConfig.load(home.resourceDir(resource));
        ResourceConfig adjusted = stored.withLogQuota(quota);
        adjusted.store(home.resourceDir(resource));
        Resource live = resources.get(resource);
        if (live != null && !(live instanceof FailedResource)) {
            live.adjust(adjusted);
        }
        log.info("{}: log quota set to {} bytes (tern adjust)", resource, adjusted.logQuotaBytes());
        return resource + ": log quota " + adjusted.logQuotaBytes() + " bytes" + (quota == 0 ? " (the default)" : "");
    }

    private AdminServer.Response serveMetrics(AdminServer.Request req) {
        return new AdminServer.Response(200, "text/plain; version=0.0.4; charset=utf-8",
                metrics.scrape().getBytes(StandardCharsets.UTF_8));
    }

    private void writeRunFile() throws IOException {
        Files.createDirectories(home.runDir());
        Properties p = new Properties();
        p.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
        p.setProperty("listen", new HostPort(replication.address().getHostString(), replication.address().getPort()).toString());
        p.setProperty("nbd", new HostPort(nbd.address().getHostString(), nbd.address().getPort()).toString());
        p.setProperty("http", new HostPort(http.address().getHostString(), http.address().getPort()).toString());
        NodeHome.store(home.runDir().resolve("daemon.properties"), p);
    }

    /** Stops serving, checkpoints and closes every resource. */
    @Override
    public void close() {
        ticker.shutdownNow();
        roleChanges.shutdownNow();
        meshes.values().forEach(ResourceMesh::close);
        if (nodeMetrics != null) {
            nodeMetrics.close();
        }
        if (http != null) {
            http.close();
        }
        if (nbd != null) {
            nbd.close();
        }
        if (replication != null) {
            replication.close();
        }
        for (Resource r : resources.values()) {
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
        event(null, null, "node", "running", "stopped", null);
        if (events != null) {
            events.close();
        }
        log.info("node {} stopped", name);
    }
}
