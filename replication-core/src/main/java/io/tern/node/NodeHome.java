package io.tern.node;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Pattern;

import io.tern.log.DurableFiles;

/**
 * The folder of one node ({@code --home} or {@code TERN_HOME}):
 * <pre>
 *  node.properties                 node name, cluster id and addresses, written by {@code tern init}
 *  resources/RES/resource.properties  a resource: size, data path, role, epoch
 *  resources/RES/data.img          its backing store (unless --data put it elsewhere)
 *  resources/RES/log/              its transaction log
 *  resources/RES/checkpoint        its replay position
 *  run/daemon.properties           the running daemon's pid and bound addresses
 *  admin.token                     what mutating admin calls must carry (0600)
 *  tls/ca.crt, node.crt, node.key  the cluster's CA, this node's certificate and key ({@code tern cert issue})
 * </pre>
 * Every file is replaced atomically and durably.
 */
public final class NodeHome {
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    public static final HostPort DEFAULT_LISTEN = new HostPort("127.0.0.1", 7800);
    public static final HostPort DEFAULT_NBD = new HostPort("127.0.0.1", 10809);
    public static final HostPort DEFAULT_HTTP = new HostPort("127.0.0.1", 7801);
    /** The cluster of a node initialised without {@code --cluster}. */
    public static final String DEFAULT_CLUSTER = "tern";

    private final Path dir;

    private NodeHome(Path dir) {
        this.dir = dir;
    }

    /** The node home at {@code dir}, which {@code tern init} must have made. */
    public static NodeHome open(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("node.properties"))) {
            throw new IllegalStateException(dir + " is not a Tern node home: run 'tern init --home " + dir
                    + " --node NAME' first");
        }
        return new NodeHome(dir.toAbsolutePath());
    }

    /** Makes a new node home; refuses a folder that already holds one. */
    public static NodeHome init(Path dir, String node, String cluster, HostPort listen, HostPort nbd, HostPort http)
            throws IOException {
        checkName("node", node);
        checkName("cluster", cluster);
        if (Files.exists(dir.resolve("node.properties"))) {
            throw new IllegalStateException(dir + " is already the home of a node");
        }
        io.tern.log.DurableFiles.createDirectories(dir.resolve("resources"));
        new NodeHome(dir.toAbsolutePath()).makePrivate();
        Properties p = new Properties();
        p.setProperty("node", node);
        p.setProperty("cluster", cluster);
        p.setProperty("listen", listen.toString());
        p.setProperty("nbd", nbd.toString());
        p.setProperty("http", http.toString());
        p.setProperty("transport", "tls");
        store(dir.resolve("node.properties"), p);
        NodeHome home = new NodeHome(dir.toAbsolutePath());
        home.adminToken();
        DurableFiles.syncDirectory(dir.toAbsolutePath().getParent());
        return home;
    }

    /** The file in the home that holds the admin endpoint's token (mode 0600). */
    public static final String ADMIN_TOKEN = "admin.token";

    /**
     * The token that mutating admin calls must carry ({@code Authorization: Bearer TOKEN}),
     * made (256 random bits, hex, mode 0600) the first time it is asked for. Whoever can read the
     * home can act on the node; no one else can.
     */
    public String adminToken() throws IOException {
        Path file = dir.resolve(ADMIN_TOKEN);
        if (Files.isRegularFile(file)) {
            String token = Files.readString(file, StandardCharsets.UTF_8).trim();
            if (!token.isEmpty()) {
                return token;
            }
        }
        byte[] random = new byte[32];
        new java.security.SecureRandom().nextBytes(random);
        String token = java.util.HexFormat.of().formatHex(random);
        Path tmp = dir.resolve(ADMIN_TOKEN + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap((token + "\n").getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        DurableFiles.syncDirectory(dir);
        return token;
    }

    /**
     * Takes group and other permissions off the home folder (0700): links, logs, data files and
     * the admin token inside are then the owner's alone, whatever their own modes. Returns
     * whether it changed anything.
     */
    public boolean makePrivate() throws IOException {
        java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
        java.util.Set<java.nio.file.attribute.PosixFilePermission> owner =
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------");
        if (perms.equals(owner)) {
            return false;
        }
        Files.setPosixFilePermissions(dir, owner);
        return true;
    }

    public static void checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " name '" + name + "' must be 1-63 of A-Z a-z 0-9 . _ - "
                    + "and start with a letter or digit");
        }
    }

    public Path dir() {
        return dir;
    }

    public Properties nodeProperties() throws IOException {
        return load(dir.resolve("node.properties"));
    }

    public String node() throws IOException {
        return nodeProperties().getProperty("node");
    }

    /** The cluster this node belongs to: peers of another cluster are refused. */
    public String cluster() throws IOException {
        return nodeProperties().getProperty("cluster", DEFAULT_CLUSTER);
    }

    /**
     * How often a primary's checkpointer syncs its backing store and moves its checkpoint
     * ({@code checkpoint_interval_ms} in {@code node.properties}, default 5000): the longest
     * stretch of log a restart replays, against one backing-store sync per interval.
     */
    public java.time.Duration checkpointInterval() throws IOException {
        String ms = nodeProperties().getProperty("checkpoint_interval_ms", "5000").trim();
        try {
            long v = Long.parseLong(ms);
            if (v < 10 || v > 3_600_000) {
                throw new NumberFormatException("out of range");
            }
            return java.time.Duration.ofMillis(v);
        } catch (NumberFormatException e) {
            throw new IllegalStateException(dir.resolve("node.properties") + ": checkpoint_interval_ms '" + ms
                    + "' is not a number of milliseconds between 10 and 3600000");
        }
    }

    /**
     * How long the event journal keeps events ({@code events_retention} in {@code node.properties}:
     * a number and a unit {@code m}, {@code h} or {@code d}; default 7 days, at least an hour).
     */
    public java.time.Duration eventsRetention() throws IOException {
        String v = nodeProperties().getProperty("events_retention", "7d").trim();
        java.time.Duration d = parseDuration(v);
        if (d == null || d.compareTo(java.time.Duration.ofHours(1)) < 0) {
            throw new IllegalStateException(dir.resolve("node.properties") + ": events_retention '" + v
                    + "' is not a time of at least an hour such as 12h or 30d");
        }
        return d;
    }

    /** {@code 90s}, {@code 10m}, {@code 12h}, {@code 7d}; {@code null} if it is not one. */
    public static java.time.Duration parseDuration(String v) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})([smhd])").matcher(v.trim());
        if (!m.matches()) {
            return null;
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "s" -> java.time.Duration.ofSeconds(n);
            case "m" -> java.time.Duration.ofMinutes(n);
            case "h" -> java.time.Duration.ofHours(n);
            default -> java.time.Duration.ofDays(n);
        };
    }

    /**
     * How this node's replication and link sessions travel ({@code transport} in
     * {@code node.properties}): {@code tls} (the default) with the material in {@code tls/}, or
     * {@code plain} TCP, allowed only while the replication address is a loopback one.
     *
     * @throws IOException           if the TLS material is missing, unreadable or not this node's
     * @throws IllegalStateException if plain TCP is asked for beyond loopback, or the value is unknown
     */
    public io.tern.security.Transport transport() throws IOException {
        String t = nodeProperties().getProperty("transport", "tls").trim();
        switch (t) {
            case "plain" -> {
                HostPort listen = address("listen");
                if (!isLoopback(listen.host())) {
                    throw new IllegalStateException(dir.resolve("node.properties") + ": transport=plain is allowed on "
                            + "loopback only, and this node listens on " + listen + ": issue certificates (tern cert) "
                            + "and set transport=tls");
                }
                return io.tern.security.Transport.plain();
            }
            case "tls" -> {
                return io.tern.security.Transport.tls(dir.resolve(io.tern.security.Transport.DIR), node(), cluster(),
                        members());
            }
            default -> throw new IllegalStateException(dir.resolve("node.properties") + ": transport '" + t
                    + "' is not tls or plain");
        }
    }

    /**
     * Whether the NBD server requires TLS ({@code nbd_tls} in {@code node.properties}: {@code auto}
     * (the default: when the export listens beyond loopback), {@code on} or {@code off}).
     */
    public boolean nbdTls() throws IOException {
        String v = nodeProperties().getProperty("nbd_tls", "auto").trim();
        return switch (v) {
            case "on" -> true;
            case "off" -> false;
            case "auto" -> !isLoopback(address("nbd").host());
            default -> throw new IllegalStateException(dir.resolve("node.properties") + ": nbd_tls '" + v
                    + "' is not auto, on or off");
        };
    }

    /** Whether {@code host} (a name or address) is a loopback address; an unresolvable name is not. */
    public static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /**
     * The nodes allowed to connect ({@code members} in {@code node.properties}, comma-separated):
     * empty means every holder of a certificate of the cluster's CA. Removing a node from it (and
     * {@code tern cert reload}) revokes it.
     */
    public java.util.Set<String> members() throws IOException {
        String v = nodeProperties().getProperty("members", "").trim();
        java.util.Set<String> members = new java.util.TreeSet<>();
        for (String m : v.split(",")) {
            if (!m.isBlank()) {
                checkName("member", m.trim());
                members.add(m.trim());
            }
        }
        return members;
    }

    /** Sets (or with {@code null} removes) one setting of {@code node.properties}, atomically. */
    public synchronized void setNodeProperty(String key, String value) throws IOException {
        Properties p = nodeProperties();
        if (value == null) {
            p.remove(key);
        } else {
            p.setProperty(key, value);
        }
        store(dir.resolve("node.properties"), p);
    }

    public HostPort address(String key) throws IOException {
        return HostPort.parse(nodeProperties().getProperty(key));
    }

    /**
     * The replication address the other members dial ({@code advertise} in
     * {@code node.properties}, published in this node's {@code address-} link): the
     * {@code listen} address unless set, as behind a NAT, a port forward or a proxy.
     */
    public HostPort advertised() throws IOException {
        String a = nodeProperties().getProperty("advertise");
        return a == null || a.isBlank() ? address("listen") : HostPort.parse(a.trim());
    }

    public Path resourceDir(String name) {
        return dir.resolve("resources").resolve(name);
    }

    public Path runDir() {
        return dir.resolve("run");
    }

    /** Names of the resources on this node, sorted. */
    public List<String> resources() throws IOException {
        List<String> names = new ArrayList<>();
        Path res = dir.resolve("resources");
        if (Files.isDirectory(res)) {
            try (var s = Files.list(res)) {
                s.filter(p -> Files.isRegularFile(p.resolve("resource.properties")))
                        .forEach(p -> names.add(p.getFileName().toString()));
            }
        }
        names.sort(null);
        return names;
    }

    public static Properties load(Path file) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        return p;
    }

    public static void store(Path file, Properties p) throws IOException {
        StringWriter w = new StringWriter();
        p.store(w, "tern");
        DurableFiles.writeAtomically(file, ByteBuffer.wrap(w.toString().getBytes(StandardCharsets.UTF_8)));
    }
}
