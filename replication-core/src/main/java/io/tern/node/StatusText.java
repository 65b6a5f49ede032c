package io.tern.node;

import java.util.List;
import java.util.Map;

/** Renders a status map (as {@link Node#status()} builds it) for people. */
public final class StatusText {
    private StatusText() {
    }

    public static String render(Map<String, Object> status) {
        StringBuilder b = new StringBuilder();
        boolean running = Boolean.TRUE.equals(status.get("running"));
        b.append("node ").append(status.get("node"))
                .append(running ? " (running, pid " + status.get("pid") + ", NBD " + status.get("nbd") + ")" : " (not running)")
                .append('\n');
        List<?> resources = (List<?>) status.get("resources");
        if (resources.isEmpty()) {
            b.append("  no resources: create one with 'tern create RES --size SIZE'\n");
        }
        for (Object o : resources) {
            Map<?, ?> r = (Map<?, ?>) o;
            b.append(String.format("  %-16s %-9s %-12s epoch %-4s logged %-10s replayed %-10s%s%n",
                    r.get("name"), r.get("role"), r.get("disk"), r.get("epoch"),
                    r.get("logged_lsn"), r.get("replayed_lsn"),
                    r.containsKey("error") ? "  error: " + r.get("error") : ""));
        }
        return b.toString();
    }
}
