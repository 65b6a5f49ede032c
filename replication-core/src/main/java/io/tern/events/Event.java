package io.tern.events;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One entry of a node's event journal: something about the node, one of its resources, or one
 * of a resource's peers changed.
 *
 * @param time     when the node saw it
 * @param node     the node that recorded it
 * @param resource the resource, or {@code null} for the node itself
 * @param peer     the peer concerned, or {@code null}
 * @param type     what changed: {@code node}, {@code role}, {@code disk}, {@code epoch},
 *                 {@code peer}, {@code split-brain}, {@code sync}, {@code problem},
 *                 {@code error}, {@code action} (see docs/events.md)
 * @param from     the state before, or {@code null}
 * @param to       the state after, or {@code null}
 * @param reason   why or what, for people, or {@code null}
 */
public record Event(Instant time, String node, String resource, String peer, String type, String from, String to,
                    String reason) {
    public Event {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(type, "type");
    }

    /** The fields that are set, in a fixed order: what {@code tern events --json} prints. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", time.toString());
        m.put("node", node);
        putIfSet(m, "resource", resource);
        putIfSet(m, "peer", peer);
        m.put("type", type);
        putIfSet(m, "from", from);
        putIfSet(m, "to", to);
        putIfSet(m, "reason", reason);
        return m;
    }

    /** The event from {@link #toMap()}'s form; a malformed one is an {@link IllegalArgumentException}. */
    public static Event fromMap(Map<?, ?> m) {
        Object time = m.get("time");
        Object node = m.get("node");
        Object type = m.get("type");
        if (!(time instanceof String t) || !(node instanceof String n) || !(type instanceof String ty)) {
            throw new IllegalArgumentException("an event needs time, node and type: " + m);
        }
        try {
            return new Event(Instant.parse(t), n, text(m, "resource"), text(m, "peer"), ty, text(m, "from"),
                    text(m, "to"), text(m, "reason"));
        } catch (java.time.format.DateTimeParseException e) {
            throw new IllegalArgumentException("bad event time '" + t + "'", e);
        }
    }

    /** One line for people: {@code TIME NODE [RES] [peer P] TYPE: FROM -> TO (REASON)}. */
    public String toText() {
        return time + " " + node + " " + describe();
    }

    /** The line without time and node: {@code [RES] [peer P] TYPE: FROM -> TO (REASON)}. */
    public String describe() {
        StringBuilder b = new StringBuilder();
        if (resource != null) {
            b.append(resource);
        }
        if (peer != null) {
            b.append(b.isEmpty() ? "" : " ").append("peer ").append(peer);
        }
        b.append(b.isEmpty() ? "" : " ").append(type).append(':');
        if (from != null || to != null) {
            b.append(' ').append(from == null ? "-" : from).append(" -> ").append(to == null ? "-" : to);
        }
        if (reason != null) {
            b.append(from != null || to != null ? " (" + reason + ")" : " " + reason);
        }
        return b.toString();
    }

    private static void putIfSet(Map<String, Object> m, String key, String value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    private static String text(Map<?, ?> m, String key) {
        Object v = m.get(key);
        return v == null ? null : v.toString();
    }
}
