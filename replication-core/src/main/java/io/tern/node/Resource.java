package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import io.micrometer.core.instrument.MeterRegistry;
import io.tern.block.BlockDevice;
import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.Durability;
import io.tern.replication.ship.LogShipper;
import io.tern.replication.sync.SyncState;

/**
 * One replicated resource on this node: its configuration and, while the node runs, its device,
 * served as a {@link PrimaryResource} (read-write, shipping its log) or a
 * {@link SecondaryResource} (read-only, pulling and replaying the primary's log).
 */
public abstract class Resource implements AutoCloseable {
    /** What {@code resource.properties} says; replaced by {@link #adjust} (settings that apply while running). */
    protected volatile ResourceConfig config;

    protected Resource(ResourceConfig config) {
        this.config = config;
    }

    /**
     * Creates a resource on this node as its primary: the backing store (every block allocated
     * when {@code preallocate}, so a full disk is met here and not by a write later; otherwise
     * sparse), an empty log and the resource's settings.
     */
    public static ResourceConfig create(NodeHome home, String name, long size, Path data, boolean preallocate,
                                        Durability durability, LogSegment logSegment, long logQuota) throws IOException {
        Path dir = newResourceDir(home, name, size);
        Path dataPath = (data != null ? data : dir.resolve("data.img")).toAbsolutePath();
        FileBlockDevice.create(dataPath, size, preallocate).close();
        ResourceConfig config = new ResourceConfig(name, size, dataPath, ResourceConfig.Role.Primary, 1, durability, null,
                ResourceConfig.Pull.DEFAULT, logSegment, logQuota);
        config.store(dir);
        return config;
    }

    /** {@link #join(NodeHome, String, long, long, HostPort, Path, ResourceConfig.Pull, LogSegment, long, boolean)}, preallocated. */
    public static ResourceConfig join(NodeHome home, String name, long size, long epoch, HostPort peer, Path data,
                                      ResourceConfig.Pull pull, LogSegment logSegment, long logQuota) throws IOException {
        return join(home, name, size, epoch, peer, data, pull, logSegment, logQuota, true);
    }

    /**
     * Makes this node a secondary of a resource whose primary (at {@code peer}) reported
     * {@code size} bytes at {@code epoch}: the backing store (an existing file of that size at
     * {@code data} is kept as it is, so the full sync sends only the chunks that differ; a new one
     * has every block allocated when {@code preallocate}, else it is sparse) and a full sync
     * still to run; {@code pull} says how fast and whether compressed. The settings file is
     * written last: a crash before it leaves no resource.
     */
    public static ResourceConfig join(NodeHome home, String name, long size, long epoch, HostPort peer, Path data,
                                      ResourceConfig.Pull pull, LogSegment logSegment, long logQuota,
                                      boolean preallocate) throws IOException {
        Path dir = newResourceDir(home, name, size);
        Path dataPath = (data != null ? data : dir.resolve("data.img")).toAbsolutePath();
        if (Files.exists(dataPath)) {
            try (FileBlockDevice existing = FileBlockDevice.open(dataPath, true)) {
                if (existing.size() != size) {
                    throw new IllegalArgumentException(dataPath + " holds " + existing.size() + " bytes; the resource is "
                            + size);
                }
            }
        } else {
            FileBlockDevice.create(dataPath, size, preallocate).close();
        }
        SyncState.NEW.store(dir.resolve(SecondaryResource.SYNC_FILE));
        ResourceConfig config = new ResourceConfig(name, size, dataPath, ResourceConfig.Role.Secondary, epoch,
                Durability.SYNC, peer, pull, logSegment, logQuota);
        config.store(dir);
        return config;
    }

    private static Path newResourceDir(NodeHome home, String name, long size) throws IOException {
        NodeHome.checkName("resource", name);
        if (size <= 0 || size % 512 != 0) {
            throw new IllegalArgumentException("size " + size + " is not a positive multiple of 512 bytes");
        }
        Path dir = home.resourceDir(name);
        if (Files.exists(dir.resolve("resource.properties"))) {
            throw new IllegalStateException("resource '" + name + "' exists already on this node");
        }
        io.tern.log.DurableFiles.createDirectories(dir);
        return dir;
    }

    /** Opens the resource as its role says: recovers the log and starts replication. */
    public static Resource open(NodeHome home, String name, io.tern.links.LinkStore links,
                                io.tern.security.Transport transport) throws IOException {
        ResourceConfig config = ResourceConfig.load(home.resourceDir(name));
        return config.role() == ResourceConfig.Role.Primary
                ? PrimaryResource.open(home, config, links)
                : SecondaryResource.open(home, config, links, transport);
    }

    /** Opens the backing store and checks it is the resource's size. */
    static FileBlockDevice openBacking(ResourceConfig config) throws IOException {
        FileBlockDevice backing = FileBlockDevice.open(config.data(), false);
        if (backing.size() != config.size()) {
            backing.close();
            throw new IllegalStateException("resource '" + config.name() + "': " + config.data() + " holds "
                    + backing.size() + " bytes but the resource is " + config.size());
        }
        return backing;
    }

    public ResourceConfig config() {
        return config;
    }

    /** What NBD clients see: the device, read-only on a secondary. */
    public abstract BlockDevice exportDevice();

    /** The shipper that serves this resource's secondaries, or {@code null} if this node is not its primary. */
    public abstract LogShipper shipper();

    /** Gauges of the resource's positions and health. */
    public abstract void registerMetrics(MeterRegistry registry);

    /** Frequent, cheap bookkeeping (about every 100 ms): samples for lag in bytes and seconds. */
    public void sample() {
    }

    /** Periodic work of the node (about every second): store positions, move states. */
    public abstract void tick();

    /** The resource's entry in {@code tern status --json}. */
    public abstract Map<String, Object> status();

    /**
     * Applies settings that take effect while the resource runs (the log quota), already stored
     * in {@code resource.properties} by the caller.
     */
    public void adjust(ResourceConfig adjusted) {
        if (!adjusted.name().equals(config.name()) || adjusted.role() != config.role()) {
            throw new IllegalArgumentException("adjust changes settings, not the resource or its role");
        }
        this.config = adjusted;
    }

    /** What a secondary can pause: pulling the log, applying it, or a full sync. */
    public enum Pausable { FETCH, REPLAY, SYNC }

    /**
     * Stops or restarts one of a secondary's activities; the switch is kept across restarts.
     *
     * @throws IllegalStateException if this resource has no such activity (a primary)
     */
    public void pause(Pausable what, boolean pause) throws IOException {
        throw new IllegalStateException(config.name() + " is not a secondary here: there is no "
                + what.name().toLowerCase(java.util.Locale.ROOT) + " to " + (pause ? "pause" : "resume"));
    }

    /**
     * Verifies this node's disk against the primary's online ({@code tern verify}); with
     * {@code repair} rewrites the blocks that differ. Returns the report.
     *
     * @throws IllegalStateException if this resource cannot be verified here now, with why
     */
    public Map<String, Object> verify(boolean repair) throws InterruptedException {
        throw new IllegalStateException(config.name() + " is the primary here: run tern verify on a secondary");
    }

    protected Map<String, Object> baseStatus(String disk, long logged, long replayed) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", config.name());
        m.put("role", config.role().name());
        m.put("disk", disk);
        m.put("size", config.size());
        m.put("epoch", config.epoch());
        m.put("durability", config.durability().name().toLowerCase(java.util.Locale.ROOT));
        m.put("logged_lsn", logged);
        m.put("replayed_lsn", replayed);
        m.put("split_brain", false);
        return m;
    }

    /** The role's history in status: the epoch and the head version's digest. */
    protected static void putHistory(Map<String, Object> m, io.tern.replication.history.History h) {
        io.tern.replication.history.Version head = h.head();
        m.put("epoch", h.epoch());
        m.put("chain_head", head == null ? "" : head.shortId());
        m.put("chain_head_node", head == null ? "" : head.node());
        m.put("chain_head_start_lsn", head == null ? 0 : head.start());
    }

    @Override
    public abstract void close();
}
