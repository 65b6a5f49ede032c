package io.tern.nemesis;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.tern.harness.TernNode;

/**
 * Three real node processes a, b and c replicating one resource in sync durability, with 1 MiB
 * log segments (so a small quota makes the primary go Ahead quickly). Knows which node is
 * primary: it asks the nodes, never assumes.
 *
 * <p>Thread contract: used by the nemesis thread only.
 */
final class Cluster implements AutoCloseable {
    static final String RES = "r0";
    static final long SIZE = 32L << 20;
    static final String[] NAMES = {"a", "b", "c"};

    private final TernNode[] nodes = new TernNode[NAMES.length];
    private int primary;

    private Cluster() {
    }

    /** a creates the resource, b and c join it; returns once both are UpToDate. */
    static Cluster start(Path dir) throws Exception {
        Cluster c = new Cluster();
        try {
            for (int i = 0; i < NAMES.length; i++) {
                c.nodes[i] = init(dir, NAMES[i], "nemesis");
            }
            c.nodes[0].start();
            tern(c.nodes[0], "create", RES, "--size", "32M", "--log-segment", "1M");
            for (int i = 1; i < NAMES.length; i++) {
                c.nodes[i].start();
                tern(c.nodes[i], "join", RES, "--peer", c.nodes[0].peer(), "--log-segment", "1M");
            }
            awaitCaughtUp(c.nodes[0], RES, Duration.ofSeconds(120), c.nodes[1], c.nodes[2]);
            return c;
        } catch (Exception | AssertionError e) {
            c.close();
            throw e;
        }
    }

    TernNode node(int i) {
        return nodes[i];
    }

    int size() {
        return nodes.length;
    }

    int primaryIndex() {
        return primary;
    }

    TernNode primary() {
        return nodes[primary];
    }

    /** The secondaries, in name order (as the nemesis knew the roles last). */
    List<Integer> secondaries() {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++) {
            if (i != primary) {
                s.add(i);
            }
        }
        return s;
    }

    TernNode[] secondaryNodes() {
        return secondaries().stream().map(i -> nodes[i]).toArray(TernNode[]::new);
    }

    /**
     * Waits until every node answers and exactly one says it is primary, and the others
     * secondaries; remembers which. Fails after {@code atMost} with what the nodes said.
     */
    void awaitOnePrimary(Duration atMost) {
        StringBuilder seen = new StringBuilder();
        try {
            await("one primary, two secondaries").atMost(atMost).pollInterval(Duration.ofMillis(200)).until(() -> {
                seen.setLength(0);
                int found = -1;
                int primaries = 0;
                for (int i = 0; i < nodes.length; i++) {
                    Object role;
                    try {
                        role = nodes[i].resource(RES).get("role");
                    } catch (Exception e) {
                        role = "unreachable (" + e.getMessage() + ")";
                    }
                    seen.append(NAMES[i]).append('=').append(role).append(' ');
                    if ("Primary".equals(role)) {
                        primaries++;
                        found = i;
                    } else if (!"Secondary".equals(role)) {
                        return false;
                    }
                }
                if (primaries != 1) {
                    return false;
                }
                primary = found;
                return true;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("not exactly one primary after " + atMost + ": " + seen, e);
        }
    }

    Map<String, Object> status(int i) throws Exception {
        return nodes[i].resource(RES);
    }

    static String name(int i) {
        return NAMES[i];
    }

    @Override
    public void close() throws InterruptedException {
        for (TernNode n : nodes) {
            if (n != null) {
                n.kill();
            }
        }
    }
}
