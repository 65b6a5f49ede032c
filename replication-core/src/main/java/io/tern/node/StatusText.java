package io.tern.node;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders a status map (as {@link Node#status()} or {@link OfflineStatus} builds it) for people,
 * one block per resource in the manner of {@code drbdadm status}:
 *
 * <pre>
 * node b: running, pid 4242, cluster c1, listen 127.0.0.1:7800, NBD 127.0.0.1:10809
 * r0 role:Secondary disk:Inconsistent epoch:1 size:64.0 MiB durability:sync
 *     lsn: logged 1030 replayed 1030 checkpoint 1000
 *     sync: copying [########............]  43% 27.5 MiB/64.0 MiB 12.3 MiB/s ETA 3s
 *           replay must pass lsn 1044
 *   primary (127.0.0.1:7800) state:Syncing connected:yes
 *     received 1030 replayed 1030 lag 14 records
 * </pre>
 * A node set to {@code --advertise} another address shows it after its listen address:
 * {@code listen 0.0.0.0:7800 (members dial 203.0.113.7:7800)}.
 *
 * Absent fields are left out, so the same renderer serves the live, the offline and older
 * documents. A sync's rate is the status's own ({@code rate_bytes_per_second}) when it carries one;
 * otherwise the caller may pass rates it measured between two polls ({@code tern status --watch}).
 */
public final class StatusText {
    /** Characters between the brackets of a progress bar. */
    static final int BAR_WIDTH = 20;

    private StatusText() {
    }

    public static String render(Map<String, Object> status) {
        return render(status, Map.of());
    }

    /**
     * The status for people; {@code measuredRates} holds bytes per second of a running sync by
     * resource name, used where the status itself has no rate.
     */
    public static String render(Map<String, Object> status, Map<String, Double> measuredRates) {
        StringBuilder b = new StringBuilder();
        boolean running = Boolean.TRUE.equals(status.get("running"));
        b.append("node ").append(status.get("node")).append(": ");
        if (running) {
            b.append("running, pid ").append(status.get("pid"));
            appendIf(b, ", cluster ", status.get("cluster"));
            appendIf(b, ", listen ", status.get("listen"));
            Object advertise = status.get("advertise");
            if (advertise != null && !advertise.equals(status.get("listen"))) {
                b.append(" (members dial ").append(advertise).append(')');
            }
            appendIf(b, ", NBD ", status.get("nbd"));
        } else {
            b.append("not running (from its home: durable checkpoints; disk states are known once it runs)");
        }
        b.append('\n');
        List<?> resources = status.get("resources") instanceof List<?> l ? l : List.of();
        if (resources.isEmpty()) {
            b.append("  no resources: create one with 'tern create RES --size SIZE'\n");
        }
        for (Object o : resources) {
            Map<?, ?> r = (Map<?, ?>) o;
            Double measured = measuredRates.get(String.valueOf(r.get("name")));
            resource(b, r, measured);
        }
        return b.toString();
    }

    private static void resource(StringBuilder b, Map<?, ?> r, Double measuredRate) {
        b.append(r.get("name")).append(" role:").append(r.get("role")).append(" disk:").append(r.get("disk"))
                .append(" epoch:").append(r.get("epoch"));
        if (r.get("size") instanceof Number size) {
            b.append(" size:").append(Sizes.format(size.longValue()));
        }
        appendIf(b, " durability:", r.get("durability"));
        if (Boolean.TRUE.equals(r.get("split_brain"))) {
            b.append(" SPLIT-BRAIN");
        }
        b.append('\n');
        b.append("    lsn: logged ").append(orDash(r.get("logged_lsn"))).append(" replayed ").append(orDash(r.get("replayed_lsn")));
        appendIf(b, " checkpoint ", r.get("checkpoint_lsn"));
        b.append('\n');
        if (r.get("log_bytes") instanceof Number used && r.get("log_quota_bytes") instanceof Number quota) {
            b.append("    log: ").append(Sizes.format(used.longValue())).append(" used of ")
                    .append(Sizes.format(quota.longValue())).append(" quota");
            if (quota.longValue() > 0) {
                b.append(" (").append(100 * used.longValue() / quota.longValue()).append("%)");
            }
            appendIf(b, ", from lsn ", r.get("log_first_lsn"));
            b.append('\n');
        }
        if (r.get("chain_head") instanceof String head && !head.isEmpty()) {
            b.append("    history: head ").append(head).append(" by ").append(r.get("chain_head_node"))
                    .append(" from lsn ").append(r.get("chain_head_start_lsn")).append('\n');
        }
        List<String> paused = new ArrayList<>();
        for (String what : List.of("fetch", "replay", "sync")) {
            if (Boolean.TRUE.equals(r.get(what + "_paused"))) {
                paused.add(what);
            }
        }
        if (!paused.isEmpty()) {
            b.append("    paused: ").append(String.join(", ", paused)).append(" ('tern resume ... ").append(r.get("name"))
                    .append("')\n");
        }
        if (r.get("sync") instanceof Map<?, ?> sync && !"done".equals(sync.get("phase"))) {
            sync(b, r, sync, measuredRate);
        }
        appendLine(b, "    problem: ", r.get("problem"));
        appendLine(b, "    error: ", r.get("error"));
        if (r.get("peers") instanceof List<?> peers) {
            for (Object p : peers) {
                peer(b, r, (Map<?, ?>) p);
            }
        }
    }

    private static void sync(StringBuilder b, Map<?, ?> r, Map<?, ?> sync, Double measuredRate) {
        long size = r.get("size") instanceof Number n ? n.longValue() : 0;
        long copied = sync.get("copied_bytes") instanceof Number n ? n.longValue() : 0;
        b.append("    sync: ").append(sync.get("phase")).append(' ');
        if ("copying".equals(sync.get("phase"))) {
            double rate = -1;
            long eta = -1;
            if (sync.get("rate_bytes_per_second") instanceof Number own && own.longValue() > 0) {
                rate = own.doubleValue();
                eta = sync.get("eta_seconds") instanceof Number e ? e.longValue() : eta(size - copied, rate);
            } else if (measuredRate != null && measuredRate > 0) {
                rate = measuredRate;
                eta = eta(size - copied, rate);
            }
            b.append(progress(copied, size, rate, eta));
        } else {
            b.append("copy done, replaying the log written meanwhile");
        }
        b.append('\n');
        if (sync.get("end_lsn") instanceof Number end && end.longValue() > 0) {
            b.append("          replay must pass lsn ").append(end);
        } else {
            b.append("          log fetched from lsn ").append(sync.get("start_lsn"));
        }
        appendIf(b, "; digest ", sync.get("digest"));
        if (sync.get("sent_bytes") instanceof Number sent) {
            b.append("; sent ").append(Sizes.format(sent.longValue()));
            if (sync.get("same_bytes") instanceof Number same) {
                b.append(", found equal ").append(Sizes.format(same.longValue()));
            }
        }
        b.append('\n');
        if (sync.get("reason") != null) {
            b.append("          resync: ").append(sync.get("reason"));
            appendIf(b, " (chunks: ", sync.get("resync_chunks"), ")");
            b.append('\n');
        }
    }

    private static void peer(StringBuilder b, Map<?, ?> r, Map<?, ?> peer) {
        b.append("  ").append(peer.get("node"));
        appendIf(b, " (", peer.get("address"), ")");
        b.append(" state:").append(peer.get("state")).append(" connected:")
                .append(Boolean.TRUE.equals(peer.get("connected")) ? "yes" : "no").append('\n');
        if (peer.containsKey("fork_lsn")) {
            b.append(String.format(Locale.ROOT, "    histories diverge after lsn %s: %s records%s here, %s records%s there;"
                            + " resolve with 'tern invalidate %s' on the node whose changes go%n",
                    peer.get("fork_lsn"), peer.get("records_past_fork_here"), bytes(peer.get("bytes_past_fork_here")),
                    peer.get("records_past_fork_there"), bytes(peer.get("bytes_past_fork_there")), r.get("name")));
        }
        appendLine(b, "    split brain: ", peer.get("split_brain"));
        if (peer.containsKey("replayed_lsn")) { // a forked node that is no member has no positions
            b.append("    received ").append(orDash(peer.get("received_lsn"))).append(" replayed ")
                    .append(orDash(peer.get("replayed_lsn")));
            appendIf(b, " primary ", peer.get("primary_lsn"));
            b.append(" lag ").append(orDash(peer.get("lag_records"))).append(" records");
            if (peer.get("lag_bytes") instanceof Number lagBytes) {
                b.append(", ").append(Sizes.format(lagBytes.longValue()));
            }
            if (peer.get("lag_seconds") instanceof Number lagSeconds) {
                b.append(String.format(Locale.ROOT, ", %.1f s", lagSeconds.doubleValue()));
            }
            b.append('\n');
        }
        if (peer.get("dirty_bytes") instanceof Number dirty) {
            b.append("    dirty ").append(Sizes.format(dirty.longValue())).append(" since lsn ")
                    .append(peer.get("dirty_since_lsn")).append(": copied by chunks when it returns\n");
        }
        if (peer.get("compressed_bytes") instanceof Number wire && peer.get("decompressed_bytes") instanceof Number plain) {
            b.append("    compressed: ").append(Sizes.format(wire.longValue())).append(" on the wire for ")
                    .append(Sizes.format(plain.longValue())).append('\n');
        }
        appendLine(b, "    error: ", peer.get("error"));
    }

    /**
     * A progress bar with its figures: {@code [########............]  43% 27.5 MiB/64.0 MiB
     * 12.3 MiB/s ETA 3s}; rate and ETA are left out when {@code rate} is not positive, the ETA
     * when {@code etaSeconds} is negative.
     */
    public static String progress(long done, long total, double rate, long etaSeconds) {
        long d = Math.max(0, Math.min(done, total));
        int filled = total <= 0 ? BAR_WIDTH : (int) (d * BAR_WIDTH / total);
        long percent = total <= 0 ? 100 : d * 100 / total;
        StringBuilder s = new StringBuilder("[");
        s.append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append("] ");
        s.append(String.format(Locale.ROOT, "%3d%% ", percent));
        s.append(Sizes.format(d)).append('/').append(Sizes.format(Math.max(total, 0)));
        if (rate > 0) {
            s.append(' ').append(Sizes.format((long) rate)).append("/s");
            if (etaSeconds >= 0) {
                s.append(" ETA ").append(duration(etaSeconds));
            }
        }
        return s.toString();
    }

    /** Seconds until {@code remaining} bytes are through at {@code rate} bytes per second (rounded up). */
    public static long eta(long remaining, double rate) {
        return rate <= 0 ? -1 : (long) Math.ceil(Math.max(0, remaining) / rate);
    }

    /** A duration for people: {@code 3s}, {@code 8m32s}, {@code 2h05m}, {@code 3d04h}. */
    public static String duration(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
        }
        if (seconds < 86400) {
            return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, seconds % 3600 / 60);
        }
        return String.format(Locale.ROOT, "%dd%02dh", seconds / 86400, seconds % 86400 / 3600);
    }

    /** " (N bytes)" for a known byte count, else nothing. */
    private static String bytes(Object n) {
        return n instanceof Number v && v.longValue() >= 0 ? " (" + Sizes.format(v.longValue()) + ")" : "";
    }

    private static String orDash(Object o) {
        return o == null ? "-" : o.toString();
    }

    private static void appendIf(StringBuilder b, String label, Object value) {
        appendIf(b, label, value, "");
    }

    private static void appendIf(StringBuilder b, String label, Object value, String after) {
        if (value != null) {
            b.append(label).append(value).append(after);
        }
    }

    private static void appendLine(StringBuilder b, String label, Object value) {
        if (value != null) {
            b.append(label).append(value).append('\n');
        }
    }
}
