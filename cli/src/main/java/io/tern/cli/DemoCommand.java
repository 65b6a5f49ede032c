package io.tern.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.tern.block.logged.Durability;
import io.tern.block.nbd.NbdClient;
import io.tern.node.HostPort;
import io.tern.node.LogSegment;
import io.tern.node.Node;
import io.tern.node.NodeHome;
import io.tern.node.Resource;
import io.tern.node.ResourceConfig;
import io.tern.node.Sizes;
import io.tern.replication.protocol.Messages;
import io.tern.replication.sync.Probe;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tern demo}: two nodes in this process on loopback, one replicated device, a workload over
 * NBD, a handover there and back, and checks that nothing acknowledged was lost. In order:
 * <ol>
 *   <li>node a is primary of r0; where e2fsprogs is installed an ext4 image (made by
 *       {@code mke2fs -d} from generated files) is written to it through NBD; then random 4 KiB
 *       writes go on with 32 in flight, each acknowledged once durable in a's log;</li>
 *   <li>node b joins while they run: a full sync, then it follows a's log (a status line a
 *       second shows each node's role, b's state and lag);</li>
 *   <li>a planned handover to b under the load ({@link Node#promote}); a follows by itself and
 *       the writer moves to b; the writes stop, and both images are read over NBD: every
 *       acknowledged write on the primary, the images equal, the ext4 image clean;</li>
 *   <li>the writes go on on b, a handover back to a, and the same checks;</li>
 *   <li>a summary, and a last line {@code demo OK ...} (CI and DistributionTest look for it), or
 *       {@code demo FAILED: ...} and exit code 1 when a check fails.</li>
 * </ol>
 * The hidden {@code --corrupt-secondary-block} overwrites one block of the secondary's backing
 * file behind Tern's back before the last comparison, which must then fail (DemoTest).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Two nodes on loopback: a workload over NBD, live status, a handover there and back, and "
                + "checks that every acknowledged write is on the primary and both images are equal (about a minute).",
        footer = {"", "Examples:",
                "  tern demo",
                "  tern demo --seconds 3 --dir /tmp/tern-demo     # shorter phases; keep the node homes",
                "", "Exit codes:", "  0  every check passed (the last line starts with 'demo OK')",
                "  1  a check failed ('demo FAILED: ...'; the data folder is kept)", "  2  usage"})
final class DemoCommand implements Callable<Integer> {
    static final String RES = "r0";
    private static final long SIZE = 64L << 20;
    private static final long EXT4_SIZE = 16L << 20;
    private static final int IMAGE_WRITE = 128 << 10;
    private static final int DEPTH = 32;
    private static final long SEED = 1;

    @Option(names = "--dir", description = "Folder for the demo's node homes, kept afterwards (default: a new "
            + "temporary folder, removed after a run that passed).")
    Path dir;

    @Option(names = "--seconds", defaultValue = "10",
            description = "How long the writes go on in each of the three main phases (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--no-ext4", description = "Only the block workload, even where e2fsprogs is installed.")
    boolean noExt4;

    @Option(names = "--plain-tcp", hidden = true,
            description = "Replicate over plain TCP instead of TLS (to compare what TLS costs).")
    boolean plainTcp;

    @Option(names = "--corrupt-secondary-block", hidden = true,
            description = "Self-check: overwrite one block of the secondary's backing file before the last comparison.")
    boolean corruptSecondaryBlock;

    private Path root;
    private DemoModel model;
    private Optional<DemoExt4> ext4 = Optional.empty();
    private final List<String> handovers = new ArrayList<>();
    private DemoExt4.Image image;
    private DemoCheck checker;
    private double syncSeconds;
    private String digest = "";

    @Override
    public Integer call() throws Exception {
        if (seconds < 1) {
            throw new IllegalArgumentException("--seconds must be at least 1");
        }
        long t0 = System.nanoTime();
        root = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tern-demo-");
        DemoWriter writer;
        try {
            writer = run();
        } catch (DemoFailure e) {
            System.out.println("demo FAILED: " + e.getMessage());
            System.out.println("(the demo's data is kept in " + root + ")");
            return 1;
        } catch (Exception e) {
            System.out.println("demo FAILED: " + e);
            System.out.println("(the demo's data is kept in " + root + ")");
            e.printStackTrace();
            return 1;
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        summary(writer, wall);
        String ok = String.format(Locale.ROOT, "demo OK: %,d writes acknowledged, %d handovers, images equal (sha256 %s)",
                writer.acked() + imageWrites(), handovers.size(), digest.substring(0, 16));
        if (dir == null) {
            deleteTree(root);
            System.out.println(ok + "; its temporary data was removed (keep it with --dir DIR)");
        } else {
            System.out.println(ok + "; data kept in " + root);
        }
        return 0;
    }

    /** A CA for the demo's cluster and a certificate for each node, in their homes' tls/ folders. */
    private void issueCertificates(NodeHome... homes) throws Exception {
        java.time.Instant now = java.time.Instant.now();
        io.tern.security.Certificates.Issued ca = io.tern.security.Certificates.newCa(NodeHome.DEFAULT_CLUSTER,
                now.plus(Duration.ofDays(90)));
        Path caDir = root.resolve("ca");
        io.tern.security.Certificates.write(ca, caDir.resolve(io.tern.security.Certificates.CA_CERT),
                caDir.resolve(io.tern.security.Certificates.CA_KEY), false);
        for (NodeHome h : homes) {
            Path tls = h.dir().resolve(io.tern.security.Transport.DIR);
            io.tern.security.Certificates.write(io.tern.security.Certificates.issue(ca, h.cluster(), h.node(),
                    now.minusSeconds(60), now.plus(Duration.ofDays(90))), tls.resolve(io.tern.security.Certificates.NODE_CERT),
                    tls.resolve(io.tern.security.Certificates.NODE_KEY), false);
            io.tern.security.Certificates.writeCertificate(ca.certificate(), tls.resolve(io.tern.security.Certificates.CA_CERT));
        }
    }

    private DemoWriter run() throws Exception {
        System.out.println("Tern demo: two nodes on this machine (loopback) replicate one 64 MiB device, r0.");
        System.out.println("  Node a is its primary: it serves r0 over NBD and logs every write durably before "
                + "acknowledging it.");
        System.out.println("  Node b joins as a secondary: a full sync, then it pulls a's log and replays it. Then a "
                + "handover to b and back, with checks after each.");
        HostPort any = new HostPort("127.0.0.1", 0);
        HostPort aListen = new HostPort("127.0.0.1", freePort());
        HostPort bListen = new HostPort("127.0.0.1", freePort()); // fixed: each finds the other on the mesh
        NodeHome homeA = NodeHome.init(root.resolve("node-a"), "a", NodeHome.DEFAULT_CLUSTER, aListen, any, any);
        NodeHome homeB = NodeHome.init(root.resolve("node-b"), "b", NodeHome.DEFAULT_CLUSTER, bListen, any, any);
        if (plainTcp) {
            homeA.setNodeProperty("transport", "plain");
            homeB.setNodeProperty("transport", "plain");
        } else {
            issueCertificates(homeA, homeB);
        }
        Resource.create(homeA, RES, SIZE, null, false, Durability.SYNC, LogSegment.DEFAULT, 0);
        System.out.println("  node homes: " + homeA.dir() + " and " + homeB.dir());
        System.out.println(plainTcp ? "  the nodes talk over plain TCP (--plain-tcp)" : "  the nodes talk over mutual "
                + "TLS 1.3: a CA in " + root.resolve("ca") + " issued each its certificate (what 'tern cert ca' and "
                + "'tern cert issue' do)");

        ext4 = noExt4 ? Optional.empty() : DemoExt4.find();
        if (ext4.isPresent()) {
            image = ext4.get().make(Files.createDirectories(root.resolve("ext4")), EXT4_SIZE, SEED);
            System.out.printf(Locale.ROOT, "  workload: an ext4 file system (a %s image made by mke2fs -d from %d "
                    + "generated files, %s) written through NBD, then random 4 KiB writes to the other %s%n",
                    Sizes.format(EXT4_SIZE), image.files(), Sizes.format(image.fileBytes()), Sizes.format(SIZE - EXT4_SIZE));
        } else {
            System.out.println("  workload: random 4 KiB writes over all of r0 (" + (noExt4 ? "--no-ext4"
                    : "e2fsprogs is not installed") + ", so no ext4 file system)");
        }
        model = new DemoModel(SIZE, image == null ? null : image.bytes());
        DemoWriter writer = new DemoWriter(model, DEPTH, SEED);
        checker = new DemoCheck(model, SIZE, image, ext4, root.resolve("ext4"));
        Node[] nodes = new Node[2];
        try (Node a = Node.start(homeA);
             DemoStatus status = new DemoStatus(() -> nodes[1] == null ? new Node[] {nodes[0]} : nodes.clone(),
                     writer::acked)) {
            nodes[0] = a;
            try {
                System.out.printf("%n[1] node a serves nbd://%s:%d/%s (replication on %s)%n",
                        a.nbdAddress().getHostString(), a.nbdAddress().getPort(), RES, aListen);
                if (image != null) {
                    writeImage(a.nbdAddress());
                }
                System.out.println("  random 4 KiB writes, " + DEPTH + " in flight; a status line a second (roles, "
                        + "disks, b's state and lag as a sees it):");
                writer.start(a.nbdAddress());
                status.watch(2);

                System.out.println("\n[2] node b joins r0 while the writes go on: a full sync copies the device, then "
                        + "b pulls a's log");
                long joinStart = System.nanoTime();
                Messages.Welcome w = Probe.ask(homeB.cluster(), RES, "b", aListen.toAddress(), Duration.ofSeconds(10),
                        homeB.transport());
                Resource.join(homeB, RES, w.size(), w.epoch(), aListen, null, ResourceConfig.Pull.DEFAULT,
                        LogSegment.DEFAULT, 0);
                nodes[1] = Node.start(homeB);
                Node b = nodes[1];
                status.awaitLive("b's full sync", 180, () -> inSync(a, b));
                syncSeconds = (System.nanoTime() - joinStart) / 1e9;
                System.out.printf(Locale.ROOT, "  b is in sync %.1f s after it joined (%s copied while the writes went "
                        + "on); it replays a's log as it arrives: the lag is what b has yet to replay%n", syncSeconds,
                        Sizes.format(SIZE));
                status.watch(seconds);

                handover(status, writer, b, a, 3);
                status.watch(seconds);
                check(status, writer, b, a, homeA, false, "after the handover to b", 4);

                System.out.println("\n  the writes go on on b");
                writer.start(b.nbdAddress());
                status.watch(2);
                handover(status, writer, a, b, 5);
                status.watch(seconds);
                check(status, writer, a, b, homeB, corruptSecondaryBlock, "after the handover back to a", 6);
            } finally {
                try {
                    writer.stop();
                } catch (DemoFailure e) {
                    System.err.println("while stopping after the first failure: " + e.getMessage()); // not the verdict
                } finally {
                    if (nodes[1] != null) {
                        nodes[1].close();
                    }
                }
            }
        }
        return writer;
    }

    /** Writes the ext4 image to the start of the device, a few writes in flight. */
    private void writeImage(InetSocketAddress nbd) throws Exception {
        long t0 = System.nanoTime();
        byte[] bytes = image.bytes();
        try (NbdClient client = NbdClient.connect(nbd, RES)) {
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int off = 0; off < bytes.length; off += IMAGE_WRITE) {
                writes.add(client.write(off, Arrays.copyOfRange(bytes, off, off + IMAGE_WRITE), false));
                if (writes.size() >= 8) {
                    get(writes.remove(0), "writing the ext4 image");
                }
            }
            for (CompletableFuture<Void> f : writes) {
                get(f, "writing the ext4 image");
            }
            get(client.flush(), "flushing the ext4 image");
        }
        System.out.printf(Locale.ROOT, "  the ext4 image went to a in %,d writes of %s in %.1f s, each acknowledged "
                + "once durable%n", imageWrites(), Sizes.format(IMAGE_WRITE), (System.nanoTime() - t0) / 1e9);
    }

    private long imageWrites() {
        return image == null ? 0 : image.bytes().length / IMAGE_WRITE;
    }

    /** A planned handover from {@code from} to {@code to} while the writer writes. */
    private void handover(DemoStatus status, DemoWriter writer, Node to, Node from, int step) throws Exception {
        String t = name(to);
        String f = name(from);
        System.out.printf("%n[%d] planned handover to %s while the writes go on: %s stops taking writes (the writer "
                + "gets EPERM), %s replays to %s's last write and becomes primary in a new epoch, %s follows it by "
                + "itself%n", step, t, f, t, f, f);
        long refusedBefore = writer.refused();
        writer.takeLongestGapNanos();
        long t0 = System.nanoTime();
        String done;
        try {
            done = to.promote(RES, false, false);
        } catch (IllegalStateException e) {
            throw new DemoFailure("the handover to " + t + " was refused: " + e.getMessage());
        }
        double promote = (System.nanoTime() - t0) / 1e9;
        writer.target(to.nbdAddress());
        long ackedAtPromote = writer.acked();
        System.out.printf(Locale.ROOT, "  %s (%.2f s)%n", done, promote);
        double follow = status.awaitLive(f + " following " + t, 60, () -> {
            Map<?, ?> peer = DemoStatus.peer(DemoStatus.resource(to), f);
            return "Secondary".equals(DemoStatus.resource(from).get("role")) && peer != null
                    && "Replicating".equals(peer.get("state"));
        });
        try {
            status.await("writes resuming on " + t, 30, () -> writer.acked() > ackedAtPromote);
        } catch (DemoFailure e) {
            throw new DemoFailure(e.getMessage() + "; the writer's last error: " + writer.lastError());
        }
        double paused = writer.takeLongestGapNanos() / 1e9;
        long refused = writer.refused() - refusedBefore;
        System.out.printf(Locale.ROOT, "  %s follows %s (%.1f s after the handover); the writer had %d writes "
                + "refused and moved to %s: writes paused for %.2f s%n", f, t, follow, refused, t, paused);
        handovers.add(String.format(Locale.ROOT, "%s -> %s: promoted in %.2f s, writes paused %.2f s (%d refused with "
                + "EPERM and retried), %s followed %.1f s later", f, t, promote, paused, refused, f, follow));
    }

    /**
     * Stops the writes, waits until {@code secondary} replayed everything, and reads both exports:
     * every block on the primary must hold what it must, and the images must be equal.
     */
    private void check(DemoStatus status, DemoWriter writer, Node primary, Node secondary, NodeHome secondaryHome,
                       boolean corrupt, String when, int step) throws Exception {
        String p = name(primary);
        String s = name(secondary);
        System.out.printf("%n[%d] check %s: the writes stop, %s catches up, and both exports are read over NBD%n", step,
                when, s);
        writer.stop();
        double catchUp = status.await(s + " catching up with " + p, 120, () -> DemoStatus.caughtUp(primary, secondary));
        System.out.printf(Locale.ROOT, "  %s replayed everything %s logged (%.1f s after the writes stopped)%n", s, p,
                catchUp);
        digest = checker.verify(primary, secondary, secondaryHome, corrupt, when, writer.acked());
    }

    private void summary(DemoWriter writer, double wall) {
        long writes = writer.acked() + imageWrites();
        long bytes = writer.acked() * DemoModel.BLOCK + (image == null ? 0 : image.bytes().length);
        System.out.println("\nSummary");
        System.out.printf(Locale.ROOT, "  writes      %,d acknowledged (%s), each durable in the primary's log first%s%n",
                writes, Sizes.format(bytes), image == null ? "" : String.format(Locale.ROOT, "; %,d of them the ext4 "
                        + "image (%d files)", imageWrites(), image.files()));
        System.out.printf(Locale.ROOT, "  full sync   %s to b in %.1f s while the writes went on%n", Sizes.format(SIZE),
                syncSeconds);
        for (String h : handovers) {
            System.out.println("  handover    " + h);
        }
        System.out.printf("  checks      after each handover: every acknowledged write on the primary, images equal "
                + "block by block%s%n", image == null ? "" : ", e2fsck clean");
        System.out.println("  sha256      " + digest + " (both images)");
        System.out.printf(Locale.ROOT, "  time        %.1f s%n", wall);
    }

    /** b is in sync once a sees it replicating its log and its disk is UpToDate. */
    private static boolean inSync(Node a, Node b) {
        Map<?, ?> peer = DemoStatus.peer(DemoStatus.resource(a), "b");
        return peer != null && "Replicating".equals(peer.get("state"))
                && "UpToDate".equals(DemoStatus.resource(b).get("disk"));
    }

    private static String name(Node node) {
        return (String) node.status().get("node");
    }

    private static <T> T get(CompletableFuture<T> f, String what) throws InterruptedException {
        try {
            return f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new DemoFailure(what + " failed: " + (e instanceof ExecutionException ? e.getCause() : e));
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
