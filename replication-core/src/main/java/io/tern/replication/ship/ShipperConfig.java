package io.tern.replication.ship;

import java.net.InetSocketAddress;
import java.util.Objects;

import io.tern.log.TransactionLog;

/** Settings of a {@link LogShipper}, validated once by {@link #conclude()}. */
public final class ShipperConfig {
    private String clusterId;
    private String resource;
    private TransactionLog log;
    private long epoch = 1;
    private InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 7800);
    private int maxBatchBytes = 1 << 20;
    private boolean concluded;

    public ShipperConfig clusterId(String clusterId) {
        this.clusterId = clusterId;
        return this;
    }

    public ShipperConfig resource(String resource) {
        this.resource = resource;
        return this;
    }

    /** The primary's log, read from wherever each secondary asks. */
    public ShipperConfig log(TransactionLog log) {
        this.log = log;
        return this;
    }

    public ShipperConfig epoch(long epoch) {
        this.epoch = epoch;
        return this;
    }

    public ShipperConfig listen(InetSocketAddress listen) {
        this.listen = listen;
        return this;
    }

    /** Bytes of records per RECORDS frame, at most (a single larger record still goes alone). */
    public ShipperConfig maxBatchBytes(int bytes) {
        this.maxBatchBytes = bytes;
        return this;
    }

    public ShipperConfig conclude() {
        if (!concluded) {
            Objects.requireNonNull(clusterId, "cluster id");
            Objects.requireNonNull(resource, "resource");
            Objects.requireNonNull(log, "log");
            Objects.requireNonNull(listen, "listen");
            if (maxBatchBytes < 4096) {
                throw new IllegalArgumentException("maxBatchBytes must be >= 4096");
            }
            concluded = true;
        }
        return this;
    }

    public String clusterId() {
        return clusterId;
    }

    public String resource() {
        return resource;
    }

    public TransactionLog log() {
        return log;
    }

    public long epoch() {
        return epoch;
    }

    public InetSocketAddress listen() {
        return listen;
    }

    public int maxBatchBytes() {
        return maxBatchBytes;
    }
}
