package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.Durability;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;

/** One replicated resource on this node: its configuration and, while the node runs, its device. */
public final class Resource implements AutoCloseable {
    private final ResourceConfig config;
    private final LoggedDevice device;

    private Resource(ResourceConfig config, LoggedDevice device) {
        this.config = config;
        this.device = device;
    }

    /**
     * Creates a resource on this node as its primary: the backing store (sparse, or written with
     * zeros when {@code preallocate}), an empty log and the resource's settings.
     */
    public static ResourceConfig create(NodeHome home, String name, long size, Path data, boolean preallocate,
                                        Durability durability) throws IOException {
        NodeHome.checkName("resource", name);
        if (size % 512 != 0) {
            throw new IllegalArgumentException("size " + size + " is not a multiple of 512 bytes");
        }
        Path dir = home.resourceDir(name);
        if (Files.exists(dir.resolve("resource.properties"))) {
            throw new IllegalStateException("resource '" + name + "' exists already on this node");
        }
        Files.createDirectories(dir);
        Path dataPath = (data != null ? data : dir.resolve("data.img")).toAbsolutePath();
        FileBlockDevice.create(dataPath, size, preallocate).close();
        ResourceConfig config = new ResourceConfig(name, size, dataPath, ResourceConfig.Role.Primary, 1, durability);
        config.store(dir);
        return config;
    }

    /** Opens the resource's device: recovers its log and replays it onto the backing store. */
    public static Resource open(NodeHome home, String name) throws IOException {
        Path dir = home.resourceDir(name);
        ResourceConfig config = ResourceConfig.load(dir);
        FileBlockDevice backing = FileBlockDevice.open(config.data(), false);
        if (backing.size() != config.size()) {
            backing.close();
            throw new IllegalStateException("resource '" + name + "': " + config.data() + " holds " + backing.size()
                    + " bytes but the resource is " + config.size());
        }
        try {
            LoggedDevice device = LoggedDevice.open(new LoggedDeviceConfig()
                    .backing(backing)
                    .log(new LogConfig().directory(dir.resolve("log")).name(name))
                    .checkpointFile(dir.resolve("checkpoint"))
                    .epoch(config.epoch())
                    .durability(config.durability()));
            return new Resource(config, device);
        } catch (IOException | RuntimeException e) {
            backing.close();
            throw e;
        }
    }

    public ResourceConfig config() {
        return config;
    }

    public LoggedDevice device() {
        return device;
    }

    /** Gauges of the resource's log positions and health. */
    public void registerMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
        var tags = io.micrometer.core.instrument.Tags.of("resource", config.name());
        registry.gauge("tern.log.logged.lsn", tags, device, LoggedDevice::loggedLsn);
        registry.gauge("tern.log.applied.lsn", tags, device, LoggedDevice::appliedLsn);
        registry.gauge("tern.log.checkpoint.lsn", tags, device, LoggedDevice::checkpointLsn);
        registry.gauge("tern.resource.failed", tags, device, d -> d.failure() == null ? 0 : 1);
    }

    /** The resource's entry in {@code tern status --json}. */
    public Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", config.name());
        m.put("role", config.role().name());
        m.put("disk", device.failure() == null ? "UpToDate" : "Failed");
        m.put("size", config.size());
        m.put("epoch", config.epoch());
        m.put("durability", config.durability().name().toLowerCase(java.util.Locale.ROOT));
        m.put("logged_lsn", device.loggedLsn());
        m.put("replayed_lsn", device.appliedLsn());
        m.put("checkpoint_lsn", device.checkpointLsn());
        m.put("split_brain", false);
        m.put("peers", List.of());
        if (device.failure() != null) {
            m.put("error", String.valueOf(device.failure().getMessage()));
        }
        return m;
    }

    @Override
    public void close() {
        device.close();
    }
}
