package io.tern.events;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Turns a node's successive status documents into events: each time it is shown the resources'
 * status maps it compares them with the last ones and reports every change of role, disk state,
 * epoch, split-brain flag, problem, error, sync phase and peer state, plus a sync's progress
 * every {@link #PROGRESS_EVERY} while it copies. The first time it sees a resource it reports
 * its state as it stands (from nothing), so a journal read from any point has a starting state.
 *
 * <p>Sampled: a state that lasts less than the time between two observations may not appear.
 */
public final class StateWatcher {
    /** How often a running sync's progress is reported. */
    public static final Duration PROGRESS_EVERY = Duration.ofSeconds(10);

    private final String node;
    private final Consumer<Event> sink;
    private final Map<String, Map<String, String>> last = new HashMap<>();
    private final Map<String, Instant> progressAt = new HashMap<>();

    public StateWatcher(String node, Consumer<Event> sink) {
        this.node = node;
        this.sink = sink;
    }

    /** Compares the resources' status maps (as in {@code status --json}) with the last ones seen. */
    public synchronized void observe(List<Map<String, Object>> resources, Instant now) {
        for (Map<String, Object> r : resources) {
            String name = String.valueOf(r.get("name"));
            Map<String, String> state = flatten(r);
            Map<String, String> before = last.put(name, state);
            for (Map.Entry<String, String> e : state.entrySet()) {
                String was = before == null ? null : before.get(e.getKey());
                if (!Objects.equals(was, e.getValue())) {
                    report(now, name, e.getKey(), was, e.getValue(), r);
                }
            }
            if (before != null) {
                for (Map.Entry<String, String> e : before.entrySet()) {
                    if (!state.containsKey(e.getKey())) {
                        report(now, name, e.getKey(), e.getValue(), null, r);
                    }
                }
            }
            progress(now, name, r, state);
        }
    }

    /** The facts of one resource's status that are reported when they change, by key. */
    static Map<String, String> flatten(Map<String, Object> r) {
        Map<String, String> s = new LinkedHashMap<>();
        put(s, "role", r.get("role"));
        put(s, "disk", r.get("disk"));
        put(s, "epoch", r.get("epoch"));
        put(s, "split-brain", Boolean.TRUE.equals(r.get("split_brain")) ? "yes" : null);
        put(s, "problem", r.get("problem"));
        put(s, "error", r.get("error"));
        if (r.get("sync") instanceof Map<?, ?> sync) {
            put(s, "sync", sync.get("phase"));
        }
        if (r.get("peers") instanceof List<?> peers) {
            for (Object o : peers) {
                if (o instanceof Map<?, ?> p && p.get("node") != null) {
                    put(s, "peer:" + p.get("node"), p.get("state"));
                }
            }
        }
        return s;
    }

    private static void put(Map<String, String> s, String key, Object value) {
        if (value != null) {
            s.put(key, value.toString());
        }
    }

    private void report(Instant now, String resource, String key, String from, String to, Map<String, Object> r) {
        String peer = null;
        String type = key;
        String reason = null;
        if (key.startsWith("peer:")) {
            peer = key.substring("peer:".length());
            type = "peer";
            Map<?, ?> p = peer(r, peer);
            if (p != null && "SplitBrain".equals(to) && p.get("fork_lsn") != null) {
                reason = "histories forked after lsn " + p.get("fork_lsn");
            } else if (p != null && "Behind".equals(to) && p.get("dirty_bytes") != null) {
                reason = "the log passed its quota: " + p.get("dirty_bytes") + " bytes to resync from lsn "
                        + p.get("dirty_since_lsn");
            } else if (p != null && p.get("error") != null) {
                reason = String.valueOf(p.get("error"));
            }
        } else if (key.equals("problem") || key.equals("error")) {
            // the text is the state itself: report it as the reason, not as a transition
            reason = to != null ? to : "cleared (was: " + from + ")";
            from = from != null && to != null ? "set" : null;
            to = to != null ? "set" : "cleared";
        } else if (key.equals("split-brain")) {
            from = from == null ? "no" : from;
            to = to == null ? "no" : to;
        } else if (key.equals("sync") && r.get("sync") instanceof Map<?, ?> sync && sync.get("reason") != null) {
            reason = String.valueOf(sync.get("reason"));
        }
        sink.accept(new Event(now, node, resource, peer, type, from, to, reason));
    }

    private void progress(Instant now, String resource, Map<String, Object> r, Map<String, String> state) {
        if (!"copying".equals(state.get("sync")) || !(r.get("sync") instanceof Map<?, ?> sync)
                || !(sync.get("rate_bytes_per_second") instanceof Number rate)) {
            progressAt.remove(resource);
            return;
        }
        Instant at = progressAt.get(resource);
        if (at == null) {
            progressAt.put(resource, now);
            return;
        }
        if (Duration.between(at, now).compareTo(PROGRESS_EVERY) < 0) {
            return;
        }
        progressAt.put(resource, now);
        long size = r.get("size") instanceof Number n ? n.longValue() : 0;
        long copied = sync.get("copied_bytes") instanceof Number n ? n.longValue() : 0;
        String reason = String.format("%d of %d bytes (%d%%), %d bytes/s%s", copied, size,
                size > 0 ? copied * 100 / size : 0, rate.longValue(),
                sync.get("eta_seconds") instanceof Number eta && eta.longValue() >= 0 ? ", about " + eta + " s to go" : "");
        sink.accept(new Event(now, node, resource, null, "sync-progress", null, null, reason));
    }

    private static Map<?, ?> peer(Map<String, Object> r, String node) {
        if (r.get("peers") instanceof List<?> peers) {
            for (Object o : peers) {
                if (o instanceof Map<?, ?> p && node.equals(String.valueOf(p.get("node")))) {
                    return p;
                }
            }
        }
        return null;
    }
}
