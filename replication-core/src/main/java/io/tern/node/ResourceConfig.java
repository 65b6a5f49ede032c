package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import io.tern.block.logged.Durability;
import io.tern.replication.protocol.BlockDigest;

/**
 * What {@code resource.properties} says about a resource: its size, where its data lives, this
 * node's role for it, the current epoch, when writes are replied ({@link Durability}) and, on a
 * secondary, the replication address of the primary it pulls from ({@code null} on a primary) and
 * how it pulls ({@link Pull}), the size of its log's segment files ({@link LogSegment}) and the
 * log's quota: the most bytes of segment files the log keeps for members that lag (0: the
 * default, {@link #logQuotaBytes()}); past it a primary goes Ahead of them (see PrimaryResource).
 */
public record ResourceConfig(String name, long size, Path data, Role role, long epoch, Durability durability,
                             HostPort peer, Pull pull, LogSegment logSegment, long logQuota) {
    /** The default quota's bounds: at least this many segments, at most this many bytes. */
    static final int MIN_QUOTA_SEGMENTS = 4;
    static final long MAX_DEFAULT_QUOTA = 64L << 30;

    public ResourceConfig {
        if (logQuota != 0 && logQuota < MIN_QUOTA_SEGMENTS * logSegment.bytes()) {
            throw new IllegalArgumentException("a log quota of " + logQuota + " bytes is less than " + MIN_QUOTA_SEGMENTS
                    + " log segments of " + logSegment.bytes() + " bytes; give at least " + MIN_QUOTA_SEGMENTS
                    * logSegment.bytes() + " or smaller segments (--log-segment)");
        }
    }

    /**
     * The quota in force: the configured one, or by default a quarter of the device, at least
     * {@link #MIN_QUOTA_SEGMENTS} segments and at most 64 GiB.
     */
    public long logQuotaBytes() {
        if (logQuota > 0) {
            return logQuota;
        }
        return Math.max(MIN_QUOTA_SEGMENTS * logSegment.bytes(), Math.min(size / 4, MAX_DEFAULT_QUOTA));
    }

    /**
     * How a secondary pulls: the most bytes per second a full sync copies and the log stream
     * reads (0: no limit), whether the primary compresses what it sends, and the digest a full
     * sync compares blocks by.
     */
    public record Pull(long syncRate, long fetchRate, boolean compress, BlockDigest syncDigest) {
        public static final Pull DEFAULT = new Pull(0, 0, false, BlockDigest.XXH128);
    }

    /** A node's role for a resource. */
    public enum Role { Primary, Secondary }

    public static ResourceConfig load(Path resourceDir) throws IOException {
        Properties p = NodeHome.load(resourceDir.resolve("resource.properties"));
        try {
            return new ResourceConfig(p.getProperty("name"), Long.parseLong(p.getProperty("size")),
                    Path.of(p.getProperty("data")), Role.valueOf(p.getProperty("role")),
                    Long.parseLong(p.getProperty("epoch")),
                    Durability.valueOf(p.getProperty("durability", "sync").toUpperCase(java.util.Locale.ROOT)),
                    p.getProperty("peer") == null ? null : HostPort.parse(p.getProperty("peer")),
                    new Pull(Long.parseLong(p.getProperty("sync_rate", "0")), Long.parseLong(p.getProperty("fetch_rate", "0")),
                            Boolean.parseBoolean(p.getProperty("compress", "false")),
                            BlockDigest.parse(p.getProperty("sync_digest", BlockDigest.XXH128.label()))),
                    LogSegment.parse(p.getProperty("log_segment", LogSegment.DEFAULT.label())),
                    Long.parseLong(p.getProperty("log_quota", "0")));
        } catch (RuntimeException e) {
            throw new IllegalStateException(resourceDir.resolve("resource.properties") + " is damaged: " + e, e);
        }
    }

    /** This configuration with another role, epoch and primary address ({@code null} on a primary). */
    public ResourceConfig withRole(Role newRole, long newEpoch, HostPort newPeer) {
        return new ResourceConfig(name, size, data, newRole, newEpoch, durability, newPeer, pull, logSegment, logQuota);
    }

    /** This configuration with another log quota (0: the default). */
    public ResourceConfig withLogQuota(long quota) {
        return new ResourceConfig(name, size, data, role, epoch, durability, peer, pull, logSegment, quota);
    }

    public void store(Path resourceDir) throws IOException {
        io.tern.log.DurableFiles.createDirectories(resourceDir);
        Properties p = new Properties();
        p.setProperty("name", name);
        p.setProperty("size", Long.toString(size));
        p.setProperty("data", data.toString());
        p.setProperty("role", role.name());
        p.setProperty("epoch", Long.toString(epoch));
        p.setProperty("durability", durability.name().toLowerCase(java.util.Locale.ROOT));
        if (peer != null) {
            p.setProperty("peer", peer.toString());
        }
        if (pull.syncRate() > 0) {
            p.setProperty("sync_rate", Long.toString(pull.syncRate()));
        }
        if (pull.fetchRate() > 0) {
            p.setProperty("fetch_rate", Long.toString(pull.fetchRate()));
        }
        if (pull.compress()) {
            p.setProperty("compress", "true");
        }
        p.setProperty("sync_digest", pull.syncDigest().label());
        p.setProperty("log_segment", logSegment.label());
        if (logQuota > 0) {
            p.setProperty("log_quota", Long.toString(logQuota));
        }
        NodeHome.store(resourceDir.resolve("resource.properties"), p);
    }
}
