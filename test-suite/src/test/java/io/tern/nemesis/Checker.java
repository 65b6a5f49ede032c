package io.tern.nemesis;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.TernNode.number;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;
import io.tern.harness.FlushHistory;
import io.tern.harness.TernNode;

/**
 * The checks the nemesis runs after every step, once the step's fault is healed and no write is
 * in flight. Each throws an AssertionError that says what differed; each that passes is counted.
 *
 * <ul>
 *   <li>{@code one-primary}: every node answers, one is primary, the others secondaries;</li>
 *   <li>{@code acked-on-primary}: every acknowledged write is on the current primary, read back
 *       through NBD ({@link BlockHistory#verify}); a write never answered is there whole or not
 *       at all;</li>
 *   <li>{@code no-refusal}: no write was refused, except with the errnos the step allows: EPERM
 *       during a handover, EIO or ENOSPC while the primary's backing store fails;</li>
 *   <li>{@code no-split-brain}: no node reports a split brain (no step of this slice forces
 *       one) and none is Failed;</li>
 *   <li>{@code caught-up}: every secondary replays the primary's whole log onto an UpToDate disk
 *       (within two minutes);</li>
 *   <li>{@code replay-monotonic}: a secondary's replayed LSN never goes back;</li>
 *   <li>{@code images-equal}: the three exports read through NBD are equal; at the end also as
 *       nbdcopy reads them ({@code images-equal-nbdcopy}).</li>
 * </ul>
 * The same for the flush-mode resource {@code f0}, always primary on a ({@code flush-*}): every
 * block holds its last write a FLUSH (or FUA) covered or a later one, never bytes of no write
 * and never a torn block ({@link FlushHistory#verify}); no write refused; after a FLUSH, b and c
 * catch up and the three images are equal.
 */
final class Checker {
    private final Cluster cluster;
    private final BlockHistory history;
    private final FlushHistory flushHistory;
    private final Counts counts;
    private final long[] lastReplayed = {-1, -1, -1};
    private int errorsSeen;

    Checker(Cluster cluster, BlockHistory history, FlushHistory flushHistory, Counts counts) {
        this.cluster = cluster;
        this.history = history;
        this.flushHistory = flushHistory;
        this.counts = counts;
    }

    /** All the per-step checks, in order; returns what the check of f0's history found; {@code allowed}: the errnos a write may have been refused with in this step. */
    String afterStep(String when, java.util.Set<Integer> allowed) throws Exception {
        cluster.awaitOnePrimary(Duration.ofSeconds(60));
        counts.check("one-primary");

        try (NbdClient c = NbdClient.connect(cluster.primary().nbdAddress(), Cluster.RES)) {
            history.verify(c, when + ": primary " + Cluster.name(cluster.primaryIndex()));
        }
        counts.check("acked-on-primary");

        List<String> errors = history.errors();
        for (String e : errors.subList(errorsSeen, errors.size())) {
            if (allowed.stream().noneMatch(errno -> e.contains("with errno " + errno + ")"))) {
                throw new AssertionError(when + ": a write was refused" + (allowed.isEmpty() ? "" : " (not with errno "
                        + allowed + ")") + ": " + e);
            }
        }
        errorsSeen = errors.size();
        counts.check("no-refusal");

        for (int i = 0; i < cluster.size(); i++) {
            Map<String, Object> r = cluster.status(i);
            if (Boolean.TRUE.equals(r.get("split_brain"))) {
                throw new AssertionError(when + ": node " + Cluster.name(i) + " reports a split brain no step forced: " + r);
            }
            if ("Failed".equals(r.get("disk"))) {
                throw new AssertionError(when + ": node " + Cluster.name(i) + " is Failed: " + r);
            }
        }
        counts.check("no-split-brain");

        try {
            awaitCaughtUp(cluster.primary(), Cluster.RES, Duration.ofSeconds(120), cluster.secondaryNodes());
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            StringBuilder b = new StringBuilder(when + ": the secondaries did not catch up within 120 s:");
            for (int i = 0; i < cluster.size(); i++) {
                b.append("\n  ").append(Cluster.name(i)).append(": ").append(cluster.status(i));
            }
            throw new AssertionError(b.toString(), e);
        }
        counts.check("caught-up");
        replayMonotonic(when);
        stepImagesEqual(when);
        return flushResource(when);
    }

    /** The checks of the flush-mode resource (see the class comment); returns what its history check found. */
    private String flushResource(String when) throws Exception {
        TernNode a = cluster.node(0);
        Map<String, Object> r = a.resource(Cluster.FLUSH_RES);
        if (!"Primary".equals(r.get("role")) || "Failed".equals(r.get("disk")) || Boolean.TRUE.equals(r.get("split_brain"))) {
            throw new AssertionError(when + ": " + Cluster.FLUSH_RES + " on a is not a healthy primary: " + r);
        }
        FlushHistory.Check found;
        try (NbdClient c = NbdClient.connect(a.nbdAddress(), Cluster.FLUSH_RES)) {
            found = flushHistory.verify(c, when + ": " + Cluster.FLUSH_RES + " on a");
            // Flush mode syncs (and so ships) an acknowledged write within a second, or at a
            // FLUSH: without one, "caught up" (replayed the durable log) could pass while a still
            // holds a second of writes b and c have not seen.
            c.flush().get(60, java.util.concurrent.TimeUnit.SECONDS);
        }
        counts.check("flush-durable-on-primary");
        if (!flushHistory.errors().isEmpty()) {
            throw new AssertionError(when + ": " + Cluster.FLUSH_RES + " refused a request: " + flushHistory.errors());
        }
        try {
            awaitCaughtUp(a, Cluster.FLUSH_RES, Duration.ofSeconds(120), cluster.node(1), cluster.node(2));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(when + ": " + Cluster.FLUSH_RES + "'s secondaries did not catch up within 120 s: b "
                    + cluster.node(1).resource(Cluster.FLUSH_RES) + ", c " + cluster.node(2).resource(Cluster.FLUSH_RES), e);
        }
        counts.check("flush-caught-up");
        String primaryDigest = digest(0, Cluster.FLUSH_RES);
        for (int i = 1; i < cluster.size(); i++) {
            String d = digest(i, Cluster.FLUSH_RES);
            if (!d.equals(primaryDigest)) {
                throw new AssertionError(when + ": caught up, " + Cluster.FLUSH_RES + "'s image on " + Cluster.name(i)
                        + " (sha256 " + d + ") differs from a's (" + primaryDigest + ")");
            }
        }
        counts.check("flush-images-equal");
        if (found.unflushedLost() > 0) {
            counts.event("flush-mode-lost-unflushed-writes");
        }
        return found.toString();
    }

    /** After a step: the three images, read through NBD by this JVM, are equal (cheaper than nbdcopy). */
    private void stepImagesEqual(String when) throws Exception {
        String primaryDigest = digest(cluster.primaryIndex(), Cluster.RES);
        for (int i : cluster.secondaries()) {
            String d = digest(i, Cluster.RES);
            if (!d.equals(primaryDigest)) {
                throw new AssertionError(when + ": caught up, the image of " + Cluster.name(i) + " (sha256 " + d
                        + ") differs from the primary " + Cluster.name(cluster.primaryIndex()) + "'s (" + primaryDigest + ")");
            }
        }
        counts.check("images-equal");
    }

    private String digest(int node, String resource) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (NbdClient c = NbdClient.connect(cluster.node(node).nbdAddress(), resource)) {
            int chunk = 1 << 20;
            List<java.util.concurrent.CompletableFuture<byte[]>> reads = new java.util.ArrayList<>();
            for (long at = 0; at < c.size(); at += chunk) {
                reads.add(c.read(at, (int) Math.min(chunk, c.size() - at)));
            }
            for (var r : reads) {
                md.update(r.get(60, java.util.concurrent.TimeUnit.SECONDS));
            }
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    /** Records each consistent secondary's replayed LSN and fails if one went back. */
    void replayMonotonic(String when) throws Exception {
        for (int i : cluster.secondaries()) {
            Map<String, Object> r = cluster.status(i);
            if (!"Secondary".equals(r.get("role")) || "Inconsistent".equals(r.get("disk"))) {
                continue;
            }
            long at = number(r, "replayed_lsn");
            if (at < lastReplayed[i]) {
                throw new AssertionError(when + ": secondary " + Cluster.name(i) + " reports a consistent disk at lsn "
                        + at + ", below the " + lastReplayed[i] + " it reported before: " + r);
            }
            lastReplayed[i] = at;
        }
        counts.check("replay-monotonic");
    }

    /** The end: the three images, read by a real NBD client (nbdcopy), are equal. */
    void imagesEqual(Path work) throws Exception {
        String primaryDigest = exportDigest(cluster.primary(), Cluster.RES, work);
        for (int i : cluster.secondaries()) {
            String d = exportDigest(cluster.node(i), Cluster.RES, work);
            if (!d.equals(primaryDigest)) {
                throw new AssertionError("at the end: the image of " + Cluster.name(i) + " (sha256 " + d
                        + ") differs from the primary " + Cluster.name(cluster.primaryIndex()) + "'s (" + primaryDigest + ")");
            }
        }
        String flushDigest = exportDigest(cluster.node(0), Cluster.FLUSH_RES, work);
        for (int i = 1; i < cluster.size(); i++) {
            String d = exportDigest(cluster.node(i), Cluster.FLUSH_RES, work);
            if (!d.equals(flushDigest)) {
                throw new AssertionError("at the end: " + Cluster.FLUSH_RES + "'s image on " + Cluster.name(i) + " (sha256 "
                        + d + ") differs from a's (" + flushDigest + ")");
            }
        }
        counts.check("images-equal-nbdcopy");
    }
}
