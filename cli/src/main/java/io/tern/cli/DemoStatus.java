package io.tern.cli;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import io.tern.node.Node;
import io.tern.node.Sizes;

/**
 * The demo's view of its two nodes through {@link Node#status()}: the resource's status maps, a
 * live status line once a second while the writes go on, and waits on a condition with a deadline.
 */
final class DemoStatus implements AutoCloseable {
    private final Supplier<Node[]> nodes;
    private final Supplier<Long> acked;
    private final long startNanos = System.nanoTime();
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "demo-status");
        t.setDaemon(true);
        return t;
    });
    private ScheduledFuture<?> live;
    private long lastAcked;
    private long lastNanos;

    /** @param nodes the nodes running now (a, then a and b); {@code acked} the writes acknowledged so far */
    DemoStatus(Supplier<Node[]> nodes, Supplier<Long> acked) {
        this.nodes = nodes;
        this.acked = acked;
    }

    /** Prints a status line every second until {@link #quiet()}. */
    synchronized void live() {
        if (live == null) {
            lastAcked = acked.get();
            lastNanos = System.nanoTime();
            live = ticker.scheduleAtFixedRate(this::printLine, 1, 1, TimeUnit.SECONDS);
        }
    }

    synchronized void quiet() {
        if (live != null) {
            live.cancel(false);
            live = null;
        }
    }

    private synchronized void printLine() {
        long now = System.nanoTime();
        long n = acked.get();
        double rate = (n - lastAcked) / Math.max(1e-9, (now - lastNanos) / 1e9);
        lastAcked = n;
        lastNanos = now;
        String line;
        try {
            line = line(nodes.get());
        } catch (RuntimeException e) {
            line = "status unavailable: " + e;
        }
        System.out.printf(Locale.ROOT, "  %5.1fs  %s | %,.0f writes/s%n", (now - startNanos) / 1e9, line, rate);
    }

    /** One line: each node's role and disk, and from the primary's status each peer's state and lag. */
    static String line(Node[] nodes) {
        StringBuilder b = new StringBuilder();
        Map<?, ?> primary = null;
        for (Node node : nodes) {
            Map<?, ?> r = resource(node);
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append(node.status().get("node")).append(' ').append(r.get("role")).append(' ').append(r.get("disk"));
            if ("Primary".equals(r.get("role"))) {
                primary = r;
                b.append(" (epoch ").append(r.get("epoch")).append(')');
            }
        }
        if (primary == null) {
            return b.append(" | no primary (switching roles)").toString();
        }
        for (Node node : nodes) {
            String name = (String) node.status().get("node");
            Map<?, ?> peer = peer(primary, name);
            if (peer == null) {
                continue;
            }
            b.append(" | ").append(name).append(": ").append(peer.get("state"));
            Map<?, ?> r = resource(node);
            Map<?, ?> sync = (Map<?, ?>) r.get("sync");
            if ("Syncing".equals(peer.get("state")) && sync != null) {
                b.append(String.format(Locale.ROOT, " %s of %s copied", Sizes.format(number(sync, "copied_bytes")),
                        Sizes.format(number(r, "size"))));
            } else {
                b.append(String.format(Locale.ROOT, ", lag %,d records / %s / %.1f s", number(peer, "lag_records"),
                        Sizes.format(number(peer, "lag_bytes")), peer.get("lag_seconds") instanceof Number secs ? secs.doubleValue() : 0.0));
            }
        }
        return b.toString();
    }

    /** The demo resource's status map on {@code node}. */
    static Map<?, ?> resource(Node node) {
        for (Object r : (List<?>) node.status().get("resources")) {
            if (DemoCommand.RES.equals(((Map<?, ?>) r).get("name"))) {
                return (Map<?, ?>) r;
            }
        }
        throw new DemoFailure("node " + node.status().get("node") + " does not serve " + DemoCommand.RES);
    }

    /** The entry for {@code node} among a primary's peers, or {@code null}. */
    static Map<?, ?> peer(Map<?, ?> primary, String node) {
        Object peers = primary.get("peers");
        if (peers instanceof List<?> list) {
            for (Object p : list) {
                if (node.equals(((Map<?, ?>) p).get("node"))) {
                    return (Map<?, ?>) p;
                }
            }
        }
        return null;
    }

    static long number(Map<?, ?> m, String key) {
        Object v = m.get(key);
        return v instanceof Number n ? n.longValue() : 0;
    }

    /** Whether {@code secondary} has replayed everything {@code primary} logged, and the primary sees it Replicating. */
    static boolean caughtUp(Node primary, Node secondary) {
        Map<?, ?> p = resource(primary);
        Map<?, ?> s = resource(secondary);
        Map<?, ?> peer = peer(p, (String) secondary.status().get("node"));
        return "Primary".equals(p.get("role")) && "Secondary".equals(s.get("role")) && "UpToDate".equals(s.get("disk"))
                && peer != null && "Replicating".equals(peer.get("state"))
                && number(p, "logged_lsn") == number(s, "replayed_lsn");
    }

    /**
     * Waits until {@code done} holds, checking every 50 ms; returns the seconds it took.
     *
     * @throws DemoFailure naming {@code what} and the last status line if it does not within {@code seconds}
     */
    double await(String what, long seconds, BooleanSupplier done) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                String last;
                try {
                    last = line(nodes.get());
                } catch (RuntimeException e) {
                    last = e.toString();
                }
                throw new DemoFailure(what + " did not happen within " + seconds + " s; status: " + last);
            }
            Thread.sleep(50); // polling a condition with a deadline
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Waits (as {@link #await}) while printing status lines. */
    double awaitLive(String what, long seconds, BooleanSupplier done) throws InterruptedException {
        live();
        try {
            return await(what, seconds, done);
        } finally {
            quiet();
        }
    }

    /** Prints status lines for {@code seconds}. */
    void watch(double seconds) throws InterruptedException {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        awaitLive("watching", (long) Math.ceil(seconds) + 5, () -> System.nanoTime() >= end);
    }

    @Override
    public void close() {
        ticker.shutdownNow();
    }
}
