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
            if (r.get("sync") instanceof Map<?, ?> sync && !"done".equals(sync.get("phase"))) {
                long size = ((Number) r.get("size")).longValue();
                long copied = ((Number) sync.get("copied_bytes")).longValue();
                b.append(String.format("    sync %-9s %5.1f%% of %s", sync.get("phase"), size == 0 ? 100.0 : 100.0 * copied / size,
                        Sizes.format(size)));
                if (sync.get("rate_bytes_per_second") instanceof Number rate && rate.longValue() > 0) {
                    b.append(String.format(", %s/s, eta %ss", Sizes.format(rate.longValue()), sync.get("eta_seconds")));
                }
                b.append(String.format(", replay must pass lsn %s%n", sync.get("end_lsn")));
                if (sync.get("reason") != null) {
                    b.append("    ").append(sync.get("reason")).append('\n');
                }
            }
            if (r.get("peers") instanceof List<?> peers) {
                for (Object p : peers) {
                    Map<?, ?> peer = (Map<?, ?>) p;
                    if ("SplitBrain".equals(peer.get("state")) && peer.containsKey("fork_lsn")) {
                        b.append(String.format("    peer %-12s SplitBrain  histories diverge after lsn %s: %s records%s here, "
                                        + "%s records%s there; resolve with 'tern invalidate %s' on the node whose changes go%n",
                                peer.get("node"), peer.get("fork_lsn"), peer.get("records_past_fork_here"),
                                bytes(peer.get("bytes_past_fork_here")), peer.get("records_past_fork_there"),
                                bytes(peer.get("bytes_past_fork_there")), r.get("name")));
                        continue;
                    }
                    if (peer.get("split_brain") != null) {
                        b.append(String.format("    peer %-12s SplitBrain  %s%n", peer.get("node"), peer.get("split_brain")));
                        continue;
                    }
                    b.append(String.format("    peer %-12s %-11s received %-10s replayed %-10s lag %s records%s%n",
                            peer.get("node"), peer.get("state"), peer.get("received_lsn"), peer.get("replayed_lsn"),
                            peer.get("lag_records"), peer.containsKey("error") ? "  error: " + peer.get("error") : ""));
                }
            }
        }
        return b.toString();
    }

    /** " (N bytes)" for a known byte count, else nothing. */
    private static String bytes(Object n) {
        return n instanceof Number v && v.longValue() >= 0 ? " (" + Sizes.format(v.longValue()) + ")" : "";
    }
}
