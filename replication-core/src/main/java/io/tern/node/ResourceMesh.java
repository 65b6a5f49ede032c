package io.tern.node;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import io.tern.links.Link;
import io.tern.links.LinkStore;
import io.tern.replication.history.History;
import io.tern.replication.protocol.Messages;
import io.tern.replication.ship.MeshLink;
import io.tern.replication.ship.MeshMember;
import io.tern.replication.ship.MeshSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One resource's place in the full mesh: this node keeps a session with every other member it
 * knows ({@link MeshLink} out, and whatever they open in), whatever the roles, exchanging links
 * and states. It outlives role changes (the {@link Resource} objects come and go).
 *
 * <p>Members are known from links: {@code address-<node>} (each node's own replication address)
 * and {@code peers-<node>} (the addresses a node knows, so a new member learns of the others
 * through anyone), plus a secondary's configured primary address.
 *
 * <p>What the states say drives the roles ({@link #evaluate}), once a second:
 * <ul>
 *   <li>a primary that sees a primary of a higher epoch whose history contains all of its own
 *       log steps down and follows it (a handover's end, or an old primary returning after a
 *       forced failover with nothing the new one lacks);</li>
 *   <li>a primary that sees another primary whose history forked from its own reports a split
 *       brain with it and does nothing else;</li>
 *   <li>a secondary follows the connected primary of the highest epoch.</li>
 * </ul>
 */
final class ResourceMesh implements MeshMember {
    private static final Logger log = LoggerFactory.getLogger(ResourceMesh.class);
    private static final String ADDRESS = "address-";
    private static final String PEERS = "peers-";

    private final Node node;
    private final String resource;
    private final String self;
    private final String cluster;
    /** This node's own replication address as the others dial it (published, never dialled). */
    private final HostPort listen;
    private final LinkStore links;
    private final Map<String, MeshLink> outgoing = new ConcurrentHashMap<>();
    private final Map<String, Messages.State> peers = new ConcurrentHashMap<>();
    private final Map<String, MeshSession> sessions = new ConcurrentHashMap<>();
    /** Who answers at each address this node connects to (an address may be a proxy's, not in any link). */
    private final Map<String, String> nodeAtTarget = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Messages.Handover>> handovers = new ConcurrentHashMap<>();
    /** The peer this primary is handing over to, and until when it waits for it to take over. */
    private volatile String handingOverTo;
    private volatile long handoverDeadline;
    private volatile boolean closed;

    ResourceMesh(Node node, String resource, String self, String cluster, HostPort listen, LinkStore links) {
        this.node = node;
        this.resource = resource;
        this.self = self;
        this.cluster = cluster;
        this.listen = listen;
        this.links = links;
    }

    @Override
    public String node() {
        return self;
    }

    @Override
    public LinkStore links() {
        return links;
    }

    @Override
    public Messages.State state() {
        Resource r = node.resource(resource);
        if (r instanceof PrimaryResource p) {
            return new Messages.State(self, Messages.Role.PRIMARY, p.device().log().durableLsn(), p.history().forWire());
        }
        if (r instanceof SecondaryResource s) {
            return new Messages.State(self, Messages.Role.SECONDARY, s.receivedLsn(), s.history().forWire());
        }
        return new Messages.State(self, Messages.Role.FAILED, 0, java.util.List.of());
    }

    @Override
    public void session(String peer, MeshSession session, boolean open) {
        if (open) {
            sessions.put(peer, session);
            String remote = session.remoteAddress();
            if (outgoing.containsKey(remote)) {
                nodeAtTarget.put(remote, peer);
            }
        } else if (sessions.remove(peer, session)) {
            peers.remove(peer);
            CompletableFuture<Messages.Handover> pending = handovers.remove(peer);
            if (pending != null) {
                pending.completeExceptionally(new IllegalStateException("the session with " + peer + " closed"));
            }
        }
    }

    @Override
    public void peerState(String peer, Messages.State state) {
        peers.put(peer, state);
    }


    /** The resource this mesh is for. */
    String resource() {
        return resource;
    }
    /** The peers' states as last heard, by node, for those with a session now. */
    Map<String, Messages.State> peerStates() {
        return new TreeMap<>(peers);
    }

    /** Every member's replication address this node knows (but its own), by node. */
    Map<String, HostPort> addresses() {
        Map<String, HostPort> known = new TreeMap<>();
        for (Link l : links.all()) {
            if (l.deleted()) {
                continue;
            }
            try {
                if (l.name().startsWith(PEERS)) {
                    for (String entry : l.value().split(",")) {
                        int eq = entry.indexOf('=');
                        if (eq > 0) {
                            known.putIfAbsent(entry.substring(0, eq), HostPort.parse(entry.substring(eq + 1)));
                        }
                    }
                }
            } catch (RuntimeException e) {
                // a malformed entry: the owner's own address link still counts
            }
        }
        for (Link l : links.all()) {
            if (!l.deleted() && l.name().startsWith(ADDRESS)) {
                try {
                    known.put(l.name().substring(ADDRESS.length()), HostPort.parse(l.value()));
                } catch (RuntimeException e) {
                    log.warn("{}: ignoring link {} = {}: {}", resource, l.name(), l.value(), e.getMessage());
                }
            }
        }
        known.remove(self);
        return known;
    }

    /** Publishes this node's links, opens sessions to members not connected yet, and acts on the states. */
    void tick() {
        if (closed) {
            return;
        }
        Map<String, HostPort> known = addresses();
        try {
            putIfChanged(ADDRESS + self, listen.toString());
            StringBuilder sb = new StringBuilder();
            known.forEach((n, a) -> sb.append(sb.length() == 0 ? "" : ",").append(n).append('=').append(a));
            if (sb.length() > 0) {
                putIfChanged(PEERS + self, sb.toString());
            }
        } catch (IOException | RuntimeException e) {
            log.error("{}: cannot store this node's address links: {}", resource, e.toString());
        }
        java.util.Set<String> targets = new java.util.TreeSet<>();
        known.values().forEach(a -> targets.add(a.toString()));
        Resource r = node.resource(resource);
        if (r instanceof SecondaryResource s && s.config().peer() != null) {
            targets.add(s.config().peer().toString());
        }
        targets.remove(listen.toString());
        for (String t : targets) {
            outgoing.computeIfAbsent(t, a -> new MeshLink(cluster, resource, this, HostPort.parse(a).toAddress())
                    .transport(node.transport()).start());
        }
        evaluate(r);
    }

    private void putIfChanged(String name, String value) throws IOException {
        if (!links.get(name).equals(java.util.Optional.of(value))) {
            links.put(name, value);
        }
    }

    /** Acts on what the peers' states say (see the class comment). */
    private void evaluate(Resource r) {
        if (r instanceof PrimaryResource p) {
            evaluatePrimary(p);
        } else if (r instanceof SecondaryResource s) {
            evaluateSecondary(s);
        }
    }

    private void evaluatePrimary(PrimaryResource p) {
        History mine = p.history();
        long myLast = p.device().log().durableLsn();
        for (Map.Entry<String, Messages.State> e : peers.entrySet()) {
            String peer = e.getKey();
            Messages.State st = e.getValue();
            History theirs = History.of(st.history());
            History.Divergence d = History.compare(mine, myLast, theirs, st.lastLsn());
            if (d.forked()) {
                p.shipper().reportFork(peer, d);
                continue;
            }
            if (st.role() == Messages.Role.SECONDARY && d.theirsPast() > 0 && mine.head() != null
                    && mine.head().sameAs(theirs.head())) {
                // It holds more of this version than this log: records were lost here.
                long theirLast = st.lastLsn();
                node.changeRoleLater(resource, () -> p.startTermAfterLoss(peer, theirLast));
                continue;
            }
            if (st.role() != Messages.Role.PRIMARY) {
                continue;
            }
            if (theirs.epoch() > mine.epoch() && d.minePast() == 0) {
                HostPort at = addresses().get(peer);
                if (at == null) {
                    log.warn("{}: {} is primary in epoch {} but its address is not known yet", resource, peer,
                            theirs.epoch());
                    continue;
                }
                handingOverTo = null;
                node.changeRoleLater(resource, () -> node.demote(resource, at.toString(),
                        peer + " is primary in " + theirs.head() + " and holds all of this node's log"));
                return;
            }
        }
        String to = handingOverTo;
        if (to != null && System.nanoTime() > handoverDeadline) {
            handingOverTo = null;
            p.device().thaw();
            log.warn("{}: {} did not take over within the handover's time; this node takes writes again", resource, to);
        }
    }

    private void evaluateSecondary(SecondaryResource s) {
        String best = currentPrimary();
        if (best == null) {
            return;
        }
        Messages.State bestState = peers.get(best);
        if (bestState == null) {
            return; // its session just closed
        }
        long bestEpoch = History.of(bestState.history()).epoch();
        HostPort at = addresses().get(best);
        if (at == null || at.equals(s.config().peer())) {
            return;
        }
        String followed = nodeAt(s.config().peer());
        Messages.State current = followed == null ? null : peers.get(followed);
        long currentEpoch = current != null && current.role() == Messages.Role.PRIMARY
                ? History.of(current.history()).epoch() : -1;
        if (bestEpoch > currentEpoch) {
            String target = best;
            long epoch = bestEpoch;
            node.changeRoleLater(resource, () -> node.retarget(resource, at, target + " is primary in epoch " + epoch));
        }
    }

    /** The member whose address is {@code address} (as its mesh session there said, or its links), or {@code null}. */
    private String nodeAt(HostPort address) {
        if (address == null) {
            return null;
        }
        String answered = nodeAtTarget.get(address.toString());
        if (answered != null) {
            return answered;
        }
        for (Map.Entry<String, HostPort> e : addresses().entrySet()) {
            if (e.getValue().equals(address)) {
                return e.getKey();
            }
        }
        return null;
    }

    /** The address of {@link #currentPrimary()}, or {@code null}. */
    HostPort currentPrimaryAddress() {
        String p = currentPrimary();
        return p == null ? null : addresses().get(p);
    }

    /** The connected primary of the highest epoch, if exactly one holds it; else {@code null}. */
    String currentPrimary() {
        String best = null;
        long bestEpoch = -1;
        boolean tie = false;
        for (Map.Entry<String, Messages.State> e : peers.entrySet()) {
            if (e.getValue().role() != Messages.Role.PRIMARY) {
                continue;
            }
            long epoch = History.of(e.getValue().history()).epoch();
            if (epoch > bestEpoch) {
                best = e.getKey();
                bestEpoch = epoch;
                tie = false;
            } else if (epoch == bestEpoch) {
                tie = true;
            }
        }
        return tie ? null : best;
    }

    /** Asks {@code peer}, the primary, to hand over to this node; the future completes with its answer. */
    CompletableFuture<Messages.Handover> requestHandover(String peer) {
        MeshSession session = sessions.get(peer);
        if (session == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("no mesh session with " + peer));
        }
        CompletableFuture<Messages.Handover> answer = new CompletableFuture<>();
        handovers.put(peer, answer);
        session.send(new Messages.Handover(Messages.HandoverKind.REQUEST, 0, ""));
        return answer;
    }

    @Override
    public void handoverAnswer(String peer, Messages.Handover answer) {
        CompletableFuture<Messages.Handover> pending = handovers.remove(peer);
        if (pending != null) {
            pending.complete(answer);
        }
    }

    /** How long an old primary stays frozen for a handover before it takes writes again. */
    private static final long HANDOVER_WAIT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(120);

    @Override
    public long handOver(String peer) throws InterruptedException {
        Resource r = node.resource(resource);
        if (!(r instanceof PrimaryResource p)) {
            throw new IllegalStateException("node " + self + " is not the primary of " + resource);
        }
        if (p.device().failure() != null) {
            throw new IllegalStateException("the primary's device has failed: " + p.device().failure().getMessage());
        }
        handoverDeadline = System.nanoTime() + HANDOVER_WAIT_NANOS;
        handingOverTo = peer;
        long last = p.device().freeze("resource " + resource + " is being handed over from node " + self + " to node "
                + peer + ": write to the new primary", java.time.Duration.ofSeconds(30));
        log.warn("{}: handing over to {}: writes refused from now on; the log ends at lsn {}", resource, peer, last);
        return last;
    }

    /** The peer this primary is handing over to, or {@code null}. */
    String handingOverTo() {
        return handingOverTo;
    }

    void close() {
        closed = true;
        outgoing.values().forEach(MeshLink::close);
        outgoing.clear();
    }
}
