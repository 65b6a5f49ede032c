package io.tern.nemesis;

import static io.tern.harness.Replication.tern;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import io.tern.block.nbd.NbdClient;
import io.tern.harness.BlockHistory;
import io.tern.harness.FlushHistory;
import io.tern.harness.FlushingHistoryWriter;
import io.tern.harness.HistoryWriter;
import io.tern.harness.Replication;
import io.tern.harness.TernNode;
import io.tern.node.Json;
import io.tern.proxy.FaultProxy;
import org.awaitility.Awaitility;

/**
 * A seeded nemesis against a live cluster of three real node processes ({@link Cluster}: r0 in
 * sync durability with a primary and two secondaries, f0 in flush durability always primary on
 * a). One seed gives a {@link Schedule}; each step starts a recorded NBD writer on r0's current
 * primary ({@link HistoryWriter} over a shared {@link BlockHistory}) and a flushing one on f0
 * ({@link FlushingHistoryWriter} over a {@link FlushHistory}), injects its fault while they
 * write, heals it, stops the writers and runs the {@link Checker}. At the end the three images must be equal. On a failure the run writes
 * {@code report.md} into its folder (kept with the nodes' data and logs) and throws.
 *
 * <p>Every fault is healed within its step. About one step in four also holds a second fault
 * through the whole step ({@link #overlap}): the link into a node slowed or corrupting, healed
 * before the step's checks.
 */
public final class Nemesis {
    /** Makes the flush-mode resource's writes differ from r0's. */
    private static final long FLUSH_SALT = 0x5DEECE66DL;
    /** The quota that makes the primary go Ahead of a secondary whose fetch is paused. */
    static final String SMALL_QUOTA = "4M";

    private final Schedule schedule;
    private final Path dir;
    private final Counts counts = new Counts();
    private final List<String> journal = new ArrayList<>();
    private final long started = System.nanoTime();

    private Nemesis(Schedule schedule, Path dir) {
        this.schedule = schedule;
        this.dir = dir;
    }

    /**
     * Runs {@code steps} steps of the seed's schedule against a new cluster in {@code dir} and
     * returns the counts; on a violation writes {@code dir/report.md} and throws a {@link NemesisFailure}
     * that names the seed, the step and the report.
     */
    public static Counts run(long seed, int steps, Path dir) throws Exception {
        Nemesis n = new Nemesis(Schedule.of(seed, steps), dir);
        System.err.println(n.schedule);
        return n.run();
    }

    private Counts run() throws Exception {
        counts.run();
        Step current = null;
        BlockHistory history = new BlockHistory(Cluster.SIZE, schedule.seed());
        FlushHistory flushHistory = new FlushHistory(Cluster.FLUSH_SIZE, schedule.seed() ^ FLUSH_SALT);
        Cluster cluster = null;
        try {
            cluster = Cluster.start(dir, schedule.seed());
            note("cluster up: a primary, b and c UpToDate");
            Checker checker = new Checker(cluster, history, flushHistory, counts);
            for (Step s : schedule.steps()) {
                current = s;
                long t0 = System.nanoTime();
                FaultProxy overlap = overlap(cluster, s);
                Set<Integer> refusals;
                FlushingHistoryWriter flushWriter = new FlushingHistoryWriter(
                        NbdClient.connect(cluster.node(0).nbdAddress(), Cluster.FLUSH_RES), flushHistory,
                        s.writerSeed() ^ FLUSH_SALT, 4, 32, 16, s.index()).start();
                try {
                    refusals = step(cluster, history, s);
                } finally {
                    flushWriter.close();
                    if (overlap != null) {
                        overlap.delay(0).bandwidth(0).corrupt(0);
                    }
                }
                String flush = checker.afterStep("step " + s.index() + " (" + s.kind().label() + ")", refusals);
                note(String.format("step %d %s: checks passed in %.1f s (%d writes acknowledged so far); %s: %s", s.index(),
                        s.kind().label(), (System.nanoTime() - t0) / 1e9, history.acked(), Cluster.FLUSH_RES, flush));
            }
            current = null;
            checker.imagesEqual(dir);
            note("the end: the three images are equal");
            counts.acked(history.acked() + flushHistory.acked());
            report(null, null, null);
            return counts;
        } catch (Exception | AssertionError e) {
            counts.violation();
            counts.acked(history.acked() + flushHistory.acked());
            Path report = report(current, e, cluster);
            throw new NemesisFailure("nemesis seed=" + schedule.seed() + " failed at "
                    + (current == null ? "the start or the end" : "step " + current) + ": " + e.getMessage()
                    + "\n(replay with -Dtern.seed=" + schedule.seed() + "; report: " + report + ")", e, schedule.seed(),
                    report, counts);
        } finally {
            if (cluster != null) {
                cluster.close(dir, counts.violations() > 0);
            }
        }
    }

    /**
     * Kinds whose outcome a slowed or corrupting link does not change. A handover may be given up
     * and a quiesced failover or a resync may outlast the checks' deadlines on a 1 MiB/s link:
     * both are right, so those steps never get a second fault.
     */
    private static final Set<FaultKind> OVERLAPPABLE = java.util.EnumSet.of(FaultKind.KILL_RESTART, FaultKind.POWER_LOSS,
            FaultKind.DISK_FAULT, FaultKind.PAUSE_FETCH, FaultKind.PAUSE_REPLAY, FaultKind.LINK_FAULT,
            FaultKind.FAILOVER_UNDER_LOAD);

    /**
     * The step's second fault, if it has one and its kind allows it: the link into node
     * {@code overlap % 3} slowed (50 ms each way, 1 MiB/s) or corrupting (a bit flipped in 2% of
     * the chunks it answers with); returns its proxy, to be healed after the step.
     */
    private FaultProxy overlap(Cluster cluster, Step s) {
        if (s.overlap() < 0 || !OVERLAPPABLE.contains(s.kind())) {
            return null;
        }
        int victim = s.overlap() % cluster.size();
        boolean slow = (s.overlap() / cluster.size()) % 2 == 0;
        FaultProxy p = cluster.proxy(victim);
        if (slow) {
            p.delay(50).bandwidth(1 << 20);
        } else {
            p.corrupt(0.02);
        }
        counts.event(slow ? "overlap-slow-link" : "overlap-corrupt-link");
        note("step " + s.index() + ": through the whole step, the link into " + Cluster.name(victim) + " is "
                + (slow ? "slowed to 50 ms each way and 1 MiB/s" : "corrupting (a bit flipped in 2% of its answers)"));
        return p;
    }

    /** EPERM: a write that reached a primary which has just stepped down. */
    private static final Set<Integer> HANDOVER_REFUSALS = Set.of(1);
    /** EIO and ENOSPC: a write refused while the primary's backing store fails. */
    private static final Set<Integer> DISK_REFUSALS = Set.of(5, 28);

    /**
     * Runs one step up to the moment its fault is healed and no write is in flight; returns the
     * errnos a write may have been refused with in this step (none for most faults).
     */
    private Set<Integer> step(Cluster cluster, BlockHistory history, Step s) throws Exception {
        counts.step();
        counts.fault(s.kind());
        int before = s.before();
        int total = s.before() + s.during();
        Duration wait = Duration.ofSeconds(60);
        if (s.kind() == FaultKind.PAUSE_REPLAY) {
            pauseReplay(cluster, history, s);
            return Set.of();
        }
        if (s.kind() == FaultKind.FAILOVER_UNDER_LOAD) {
            failoverUnderLoad(cluster, history, s);
            return Set.of();
        }
        HistoryWriter writer = new HistoryWriter(NbdClient.connect(cluster.primary().nbdAddress(), Cluster.RES), history,
                s.writerSeed(), 8, s.index());
        writer.start();
        try {
            writer.awaitAcked(before, wait);
            switch (s.kind()) {
                case KILL_RESTART, POWER_LOSS -> {
                    int victim = s.pick() % cluster.size();
                    boolean wasPrimary = victim == cluster.primaryIndex();
                    String role = wasPrimary ? " (primary)" : " (secondary)";
                    if (s.kind() == FaultKind.POWER_LOSS) {
                        String dropped = cluster.powerLoss(victim);
                        note("step " + s.index() + ": power loss of " + Cluster.name(victim) + role
                                + ": kill -9, then its file system dropped what was not fsync'd: " + dropped);
                    } else {
                        note("step " + s.index() + ": kill -9 " + Cluster.name(victim) + role);
                        cluster.node(victim).kill();
                    }
                    if (wasPrimary) {
                        writer.close(); // its connection went with the node: the writes in flight stay unanswered
                    } else {
                        writer.awaitAcked(total, wait); // the primary takes writes while a secondary is dead
                    }
                    cluster.node(victim).start();
                    note("step " + s.index() + ": " + Cluster.name(victim) + " restarted");
                }
                case PAUSE_FETCH -> {
                    int victim = pickSecondary(cluster, s);
                    note("step " + s.index() + ": pause fetch on " + Cluster.name(victim));
                    cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/pause-fetch");
                    writer.awaitAcked(total, wait);
                    cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/resume-fetch");
                    note("step " + s.index() + ": resume fetch on " + Cluster.name(victim));
                }
                case HANDOVER -> {
                    int target = pickSecondary(cluster, s);
                    note("step " + s.index() + ": handover from " + Cluster.name(cluster.primaryIndex()) + " to "
                            + Cluster.name(target) + " under load");
                    handover(cluster, target, s);
                    writer.close();
                    cluster.awaitOnePrimary(wait);
                    if (cluster.primaryIndex() != target) {
                        throw new AssertionError("after the handover to " + Cluster.name(target) + " the primary is "
                                + Cluster.name(cluster.primaryIndex()));
                    }
                    return HANDOVER_REFUSALS;
                }
                case LOG_QUOTA -> quota(cluster, writer, s, false);
                case PAUSE_SYNC -> quota(cluster, writer, s, true);
                case FORCED_FAILOVER -> {
                    forcedFailover(cluster, writer, s, total, wait);
                    return HANDOVER_REFUSALS;
                }
                case DISK_FAULT -> {
                    return diskFault(cluster, history, writer, s, total, wait);
                }
                case LINK_FAULT -> linkFault(cluster, writer, s, total, wait);
                default -> throw new IllegalStateException("no such fault " + s.kind());
            }
        } finally {
            writer.close();
        }
        return Set.of();
    }

    /**
     * Replay paused twice on a secondary while a {@link SerialWriter} writes to the primary from a
     * quiet point (the previous step's checks left every node at the same LSN): each time, the
     * paused image must be the primary's image after exactly the writes its replayed LSN covers,
     * and that point must not go back.
     */
    private void pauseReplay(Cluster cluster, BlockHistory history, Step s) throws Exception {
        int victim = pickSecondary(cluster, s);
        TernNode secondary = cluster.node(victim);
        String name = Cluster.name(victim);
        long base = TernNode.number(cluster.primary().resource(Cluster.RES), "logged_lsn");
        PrefixCheck prefix;
        try (NbdClient c = NbdClient.connect(cluster.primary().nbdAddress(), Cluster.RES)) {
            prefix = new PrefixCheck(c, base);
        }
        try (SerialWriter writer = new SerialWriter(NbdClient.connect(cluster.primary().nbdAddress(), Cluster.RES),
                history, s.writerSeed(), s.index()).start()) {
            int[] points = {s.before() / 4, s.before() / 4 + s.during() / 4};
            for (int point : points) {
                writer.awaitAcked(point, Duration.ofSeconds(60));
                @SuppressWarnings("unchecked")
                Map<String, Object> r = (Map<String, Object>) Json.parse(
                        secondary.http("POST", "/resources/" + Cluster.RES + "/pause-replay"));
                try {
                    long at = TernNode.number(r, "replayed_lsn");
                    if ("Inconsistent".equals(r.get("disk"))) {
                        note("step " + s.index() + ": replay paused on " + name + ", disk Inconsistent: no prefix check");
                        continue;
                    }
                    try (NbdClient c = NbdClient.connect(secondary.nbdAddress(), Cluster.RES)) {
                        int k = prefix.check("secondary " + name, c, at, writer.sent(), history);
                        counts.check("write-order-prefix");
                        note("step " + s.index() + ": replay paused on " + name + " at lsn " + at + ": its image is the "
                                + "primary's after " + k + " of the " + writer.sent().size() + " serial writes since lsn " + base);
                    }
                } finally {
                    secondary.http("POST", "/resources/" + Cluster.RES + "/resume-replay");
                }
            }
        }
    }

    /**
     * {@code tern primary} on {@code target}. Under load a secondary may fall past the primary's
     * log quota and start a resync at any moment; a planned handover to it is then refused, as it
     * must be, until its disk is UpToDate again. Such a refusal is counted and the handover tried
     * again once the target is UpToDate (three tries); a refusal while its disk is UpToDate is a
     * violation.
     */
    private void handover(Cluster cluster, int target, Step s) throws Exception {
        TernNode node = cluster.node(target);
        String name = Cluster.name(target);
        for (int attempt = 1; ; attempt++) {
            Awaitility.await(name + " is UpToDate for the handover").atMost(Duration.ofSeconds(120))
                    .pollInterval(Duration.ofMillis(200)).until(() -> "UpToDate".equals(node.resource(Cluster.RES).get("disk")));
            int code = node.command(120, "primary", Cluster.RES, "--home", node.home().toString());
            if (code == 0) {
                return;
            }
            String why = java.nio.file.Files.readString(node.logs().resolve("command.err")).strip();
            why = why.substring(why.lastIndexOf('\n') + 1);
            Object disk = node.resource(Cluster.RES).get("disk");
            Object onPrimary = Replication.peers(cluster.primary().resource(Cluster.RES)).stream()
                    .filter(p -> name.equals(p.get("node"))).map(p -> p.get("state")).findFirst().orElse(null);
            // the refusal of a resyncing node, or of one the primary no longer replicates to
            boolean fair = !"UpToDate".equals(disk) || why.contains("still copying its full sync")
                    || !"Replicating".equals(onPrimary);
            if (!fair || attempt == 3) {
                throw new AssertionError("step " + s.index() + ": tern primary on " + name + " (disk " + disk
                        + ", on the primary " + onPrimary + ") failed with " + code + ": " + why);
            }
            counts.event("handover-refused-target-resyncing");
            note("step " + s.index() + ": the handover to " + name + " was refused (disk " + disk + ", on the primary "
                    + onPrimary + ": " + why + "); again once it is UpToDate");
        }
    }

    /**
     * A small quota on the primary and a paused fetch on a secondary, until the primary goes Ahead
     * of it; with {@code pauseSync} (see {@link FaultKind#PAUSE_SYNC}) the secondary's sync is
     * paused first, and the resync that the resumed fetch starts must wait paused.
     */
    private void quota(Cluster cluster, HistoryWriter writer, Step s, boolean pauseSync) throws Exception {
        TernNode primary = cluster.primary();
        int victim = pickSecondary(cluster, s);
        String name = Cluster.name(victim);
        note("step " + s.index() + ": log quota " + SMALL_QUOTA + " on " + Cluster.name(cluster.primaryIndex())
                + (pauseSync ? ", pause sync and" : ",") + " pause fetch on " + name);
        if (pauseSync) {
            cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/pause-sync");
        }
        tern(primary, "adjust", Cluster.RES, "--log-quota", SMALL_QUOTA);
        cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/pause-fetch");
        writer.awaitAcked(s.before() + s.during(), Duration.ofSeconds(60));
        // Ahead, and the records after the secondary's log retired: a peer marked Behind whose
        // records the log still holds is served from the log when it returns, with no resync.
        TernNode secondary = cluster.node(victim);
        boolean ahead;
        try {
            Awaitility.await(name + " goes Behind and the primary's log lets its records go")
                    .atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(200)).until(() -> {
                        long needed = TernNode.number(secondary.resource(Cluster.RES), "logged_lsn") + 1;
                        Map<String, Object> p = primary.resource(Cluster.RES);
                        return TernNode.number(p, "log_first_lsn") > needed && Replication.peers(p).stream()
                                .anyMatch(peer -> name.equals(peer.get("node")) && "Behind".equals(peer.get("state")));
                    });
            ahead = true;
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            ahead = false; // not a violation: the writer may not have passed the quota in time
        }
        counts.event(ahead ? "ahead" : "ahead-not-reached");
        note("step " + s.index() + ": " + (ahead ? "the primary went Ahead of " + name + " and retired the records it "
                + "misses" : "no Ahead past " + name + "'s log within 45 s"));
        cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/resume-fetch");
        if (pauseSync) {
            if (ahead) {
                pausedResync(cluster, victim, s);
            }
            cluster.node(victim).http("POST", "/resources/" + Cluster.RES + "/resume-sync");
            note("step " + s.index() + ": resume sync on " + name);
        }
    }

    /**
     * The secondary's resync must start and stay paused: disk Inconsistent, peer state Paused and
     * not one byte copied for two seconds while the primary writes; a {@code kill -9} and restart
     * keeps it so (the switch is durable).
     */
    private void pausedResync(Cluster cluster, int victim, Step s) throws Exception {
        TernNode node = cluster.node(victim);
        String name = Cluster.name(victim);
        Awaitility.await(name + "'s resync waits paused").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).until(() -> Boolean.TRUE.equals(node.resource(Cluster.RES).get("sync_paused")));
        for (int round = 0; round < 2; round++) {
            Map<String, Object> r = node.resource(Cluster.RES);
            long copied = copied(r);
            if (!"Inconsistent".equals(r.get("disk")) || !"Paused".equals(Replication.peers(r).get(0).get("state"))) {
                throw new AssertionError("step " + s.index() + ": " + name + "'s resync is paused, so its disk must be "
                        + "Inconsistent and its peer Paused: " + r);
            }
            Awaitility.await(name + "'s paused resync copies nothing").during(Duration.ofSeconds(2))
                    .atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> copied(node.resource(Cluster.RES)) == copied
                            && Boolean.TRUE.equals(node.resource(Cluster.RES).get("sync_paused")));
            counts.check("sync-stays-paused");
            note("step " + s.index() + ": " + name + "'s resync is paused at " + copied + " bytes"
                    + (round == 0 ? "; kill -9 and restart " + name : " after the restart too"));
            if (round == 0) {
                node.kill();
                node.start();
            }
        }
    }

    private static long copied(Map<String, Object> resource) {
        @SuppressWarnings("unchecked")
        Map<String, Object> sync = (Map<String, Object>) resource.get("sync");
        return TernNode.number(sync, "copied_bytes");
    }

    /** The least time a link fault lasts, however fast the writer gets its writes acknowledged. */
    private static final Duration LINK_FAULT_TIME = Duration.ofSeconds(2);

    /** See {@link FaultKind#LINK_FAULT}. */
    private void linkFault(Cluster cluster, HistoryWriter writer, Step s, int total, Duration wait) throws Exception {
        int victim = s.pick() % cluster.size();
        int mode = (s.pick() / cluster.size()) % 4;
        FaultProxy proxy = cluster.proxy(victim);
        long corruptedBefore = proxy.corrupted();
        String what = switch (mode) {
            case 0 -> "cut";
            case 1 -> "slowed to 100 ms each way and 512 KiB/s";
            case 2 -> "corrupted (one bit flipped in 5% of the chunks " + Cluster.name(victim) + " answers with)";
            default -> "reset (RST of every connection, three times)";
        };
        note("step " + s.index() + ": the link into " + Cluster.name(victim)
                + (victim == cluster.primaryIndex() ? " (primary)" : " (secondary)") + " is " + what);
        long t0 = System.nanoTime();
        switch (mode) {
            case 0 -> proxy.cut(true);
            case 1 -> proxy.delay(100).bandwidth(512 << 10);
            case 2 -> proxy.corrupt(0.05);
            default -> proxy.reset();
        }
        try {
            writer.awaitAcked(s.before() + s.during() / 2, wait); // the primary takes writes whatever the links do
            if (mode == 3) {
                proxy.reset();
            }
            writer.awaitAcked(total, wait);
            Awaitility.await("the link fault's least time").atMost(LINK_FAULT_TIME.plusSeconds(1))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> System.nanoTime() - t0 >= LINK_FAULT_TIME.toNanos());
            if (mode == 3) {
                proxy.reset();
            }
        } finally {
            proxy.cut(false).delay(0).bandwidth(0).corrupt(0);
        }
        long corrupted = proxy.corrupted() - corruptedBefore;
        if (mode == 2) {
            counts.event(corrupted > 0 ? "link-corrupted" : "link-corruption-missed");
        }
        note("step " + s.index() + ": the link into " + Cluster.name(victim) + " healed after "
                + String.format("%.1f s", (System.nanoTime() - t0) / 1e9)
                + (mode == 2 ? " (" + corrupted + " chunks corrupted)" : ""));
    }

    /**
     * See {@link FaultKind#DISK_FAULT}. On the primary: writes go on until one is refused or the
     * primary reports the problem; healed, the problem must clear by itself and a new writer must
     * get {@code during} writes acknowledged. On a secondary: the primary takes all the step's
     * writes while the secondary's replay reports the problem; healed, the checks see it catch up.
     */
    private Set<Integer> diskFault(Cluster cluster, BlockHistory history, HistoryWriter writer, Step s, int total,
            Duration wait) throws Exception {
        int victim = s.pick() % cluster.size();
        String errno = (s.pick() / cluster.size()) % 2 == 0 ? "EIO" : "ENOSPC";
        boolean primary = victim == cluster.primaryIndex();
        TernNode node = cluster.node(victim);
        String name = Cluster.name(victim) + (primary ? " (primary)" : " (secondary)");
        note("step " + s.index() + ": the backing store of " + name + " fails writes with " + errno);
        cluster.failBackingStore(victim, errno);
        try {
            Awaitility.await(name + " reports its backing store's " + errno).atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> String.valueOf(node.resource(Cluster.RES).get("problem")).contains(errno));
            counts.check("disk-fault-reported");
            if (!primary) {
                writer.awaitAcked(total, wait); // a failing secondary does not stop the primary
            }
        } finally {
            cluster.healBackingStore(victim);
            writer.close();
        }
        note("step " + s.index() + ": healed; " + Cluster.name(victim) + " had reported: "
                + node.resource(Cluster.RES).get("problem"));
        if (primary) {
            Awaitility.await(name + " takes writes again").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(200)).until(() -> node.resource(Cluster.RES).get("problem") == null);
            try (HistoryWriter after = new HistoryWriter(NbdClient.connect(node.nbdAddress(), Cluster.RES), history,
                    s.writerSeed() + 1, 8, s.index()).start()) {
                after.awaitAcked(s.during(), wait);
            }
            counts.check("disk-fault-recovered");
        }
        return primary ? DISK_REFUSALS : Set.of();
    }

    /** See {@link FaultKind#FORCED_FAILOVER}. */
    private void forcedFailover(Cluster cluster, HistoryWriter writer, Step s, int total, Duration wait)
            throws Exception {
        writer.awaitAcked(total, wait);
        writer.close();
        int old = cluster.primaryIndex();
        int target = pickSecondary(cluster, s);
        Replication.awaitCaughtUp(cluster.primary(), Cluster.RES, Duration.ofSeconds(120), cluster.secondaryNodes());
        note("step " + s.index() + ": writes stopped, secondaries caught up; kill -9 " + Cluster.name(old)
                + " (primary), forced failover to " + Cluster.name(target));
        cluster.node(old).kill();
        tern(cluster.node(target), "primary", Cluster.RES, "--force");
        cluster.node(old).start();
        note("step " + s.index() + ": " + Cluster.name(old) + " restarted");
        cluster.awaitOnePrimary(wait);
        if (cluster.primaryIndex() != target) {
            throw new AssertionError("after the forced failover to " + Cluster.name(target) + " the primary is "
                    + Cluster.name(cluster.primaryIndex()));
        }
    }

    /** See {@link FaultKind#FAILOVER_UNDER_LOAD}. */
    private void failoverUnderLoad(Cluster cluster, BlockHistory history, Step s) throws Exception {
        int old = cluster.primaryIndex();
        TernNode oldPrimary = cluster.primary();
        long base = TernNode.number(oldPrimary.resource(Cluster.RES), "logged_lsn");
        PrefixCheck prefix;
        try (NbdClient c = NbdClient.connect(oldPrimary.nbdAddress(), Cluster.RES)) {
            prefix = new PrefixCheck(c, base);
        }
        SerialWriter writer = new SerialWriter(NbdClient.connect(oldPrimary.nbdAddress(), Cluster.RES), history,
                s.writerSeed(), s.index()).start();
        try {
            writer.awaitAcked(s.before(), Duration.ofSeconds(60));
            // An operator fails over to a secondary with an image: under the load one may be
            // resyncing (past the primary's quota), and the site is lost while another is UpToDate.
            Awaitility.await("a secondary UpToDate").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100))
                    .until(() -> cluster.secondaries().stream().anyMatch(i -> {
                        try {
                            return "UpToDate".equals(cluster.node(i).resource(Cluster.RES).get("disk"));
                        } catch (Exception e) {
                            return false;
                        }
                    }));
            note("step " + s.index() + ": kill -9 " + Cluster.name(old) + " (primary) under load");
            oldPrimary.kill();
        } finally {
            writer.close();
        }
        List<BlockHistory.Write> sent = writer.sent();
        // Nothing arrives any more: each secondary replays what it received; the one that holds
        // the most takes over, as an operator would choose.
        int target = -1;
        long targetLsn = -1;
        List<Integer> secondaries = cluster.secondaries();
        for (int j = 0; j < secondaries.size(); j++) {
            int i = secondaries.get((j + s.pick()) % secondaries.size());
            TernNode n = cluster.node(i);
            Awaitility.await(Cluster.name(i) + " replays what it received").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(100)).until(() -> {
                        Map<String, Object> r = n.resource(Cluster.RES);
                        return TernNode.number(r, "replayed_lsn") == TernNode.number(r, "logged_lsn");
                    });
            Map<String, Object> r = n.resource(Cluster.RES);
            long lsn = TernNode.number(r, "logged_lsn");
            if (!"Inconsistent".equals(r.get("disk")) && lsn > targetLsn) {
                target = i;
                targetLsn = lsn;
            }
        }
        if (target < 0) {
            throw new AssertionError("step " + s.index() + ": no secondary kept a consistent disk after the primary's loss");
        }
        TernNode next = cluster.node(target);
        tern(next, "primary", Cluster.RES, "--force");
        try (NbdClient c = NbdClient.connect(next.nbdAddress(), Cluster.RES)) {
            int k = prefix.check("new primary " + Cluster.name(target), c, targetLsn, sent, history);
            counts.check("failover-prefix");
            long givenUp = sent.subList(k, sent.size()).stream().filter(BlockHistory.Write::acknowledged).count();
            counts.event(givenUp > 0 ? "failover-gave-up-acked-writes" : "failover-lost-nothing");
            note("step " + s.index() + ": forced failover to " + Cluster.name(target) + " at lsn " + targetLsn
                    + ": its image is the old primary's after " + k + " of the " + sent.size() + " serial writes; "
                    + givenUp + " acknowledged writes given up");
            history.adopt(c, "step " + s.index() + ": the new primary " + Cluster.name(target));
        }
        oldPrimary.start();
        long oldLsn = TernNode.number(oldPrimary.resource(Cluster.RES), "logged_lsn");
        if (oldLsn > targetLsn) {
            Awaitility.await("the fork between " + Cluster.name(old) + " and " + Cluster.name(target) + " is reported")
                    .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> Boolean.TRUE.equals(oldPrimary.resource(Cluster.RES).get("split_brain"))
                            || Boolean.TRUE.equals(next.resource(Cluster.RES).get("split_brain")));
            counts.check("fork-reported");
            note("step " + s.index() + ": " + Cluster.name(old) + " restarted with its log at lsn " + oldLsn
                    + ", past the fork at " + targetLsn + ": split brain reported; tern invalidate on " + Cluster.name(old));
            tern(oldPrimary, "invalidate", Cluster.RES);
        } else {
            note("step " + s.index() + ": " + Cluster.name(old) + " restarted with nothing past lsn " + targetLsn
                    + ": it must follow by itself");
        }
        cluster.awaitOnePrimary(Duration.ofSeconds(60));
        if (cluster.primaryIndex() != target) {
            throw new AssertionError("after the forced failover to " + Cluster.name(target) + " the primary is "
                    + Cluster.name(cluster.primaryIndex()));
        }
    }

    private static int pickSecondary(Cluster cluster, Step s) {
        List<Integer> secondaries = cluster.secondaries();
        return secondaries.get(s.pick() % secondaries.size());
    }

    private void note(String line) {
        String l = String.format("[%6.1f s] %s", (System.nanoTime() - started) / 1e9, line);
        journal.add(l);
        System.err.println("nemesis " + l);
    }

    /** Writes the one-page report; returns its path. */
    private Path report(Step failed, Throwable why, Cluster cluster) {
        Path report = dir.resolve("report.md");
        StringBuilder b = new StringBuilder();
        b.append("# Nemesis seed ").append(schedule.seed()).append(failed != null || why != null ? ": FAILED" : ": passed")
                .append("\n\nReplay: `-Dtern.seed=").append(schedule.seed()).append("` (").append(schedule.steps().size())
                .append(" steps)\n\n## Schedule\n\n");
        for (Step s : schedule.steps()) {
            b.append("- ").append(s).append(failed != null && s.index() == failed.index() ? "  **<- failed here**" : "")
                    .append('\n');
        }
        b.append("\n## What happened\n\n```\n");
        journal.forEach(l -> b.append(l).append('\n'));
        b.append("```\n");
        if (why != null) {
            b.append("\n## Why it failed\n\n```\n").append(why).append('\n');
            for (Throwable c = why.getCause(); c != null; c = c.getCause()) {
                b.append("caused by: ").append(c).append('\n');
            }
            b.append("```\n");
        }
        if (cluster != null) {
            b.append("\n## The nodes when it failed\n\n");
            for (int i = 0; i < cluster.size(); i++) {
                String st;
                try {
                    st = cluster.status(i).toString();
                } catch (Exception e) {
                    st = "no answer (" + e.getMessage() + ")";
                }
                b.append("- ").append(Cluster.name(i)).append(": `").append(st).append("`\n");
            }
        }
        b.append("\n## Counts\n\n```\n").append(counts).append("```\n\nNode data and logs: `a/`, `b/`, `c/` "
                + "(daemon-N.err per start) next to this report; each node's home as it was at the failure in `N/home-at-end`, "
                + "its file system's log in `N-fs.log`.\n");
        try {
            java.nio.file.Files.writeString(report, b);
        } catch (java.io.IOException e) {
            System.err.println("nemesis: cannot write " + report + ": " + e);
        }
        return report;
    }

    /** A fresh seed for soak runs: from the clock, so each run differs; printed by the run. */
    static long freshSeed() {
        return new Random().nextLong() & Long.MAX_VALUE;
    }
}
