package io.tern.replication.ship;

import java.util.Objects;
import java.util.function.LongSupplier;

import io.tern.block.BlockDevice;
import io.tern.log.TransactionLog;

/** Settings of a {@link LogShipper}, validated once by {@link #conclude()}. */
public final class ShipperConfig {
    private String resource;
    private TransactionLog log;
    private java.util.function.Supplier<io.tern.replication.history.History> history =
            io.tern.replication.history.History::empty;
    private int maxBatchBytes = 1 << 20;
    private boolean sendfile = !"false".equals(System.getProperty("tern.replication.sendfile"));
    private BlockDevice device;
    private LongSupplier appliedLsn;
    private LongSupplier loggedLsn;
    private MemberStore members = (node, lsn) -> { };
    private boolean concluded;

    /** Where a primary keeps what its members need, durably. */
    @FunctionalInterface
    public interface MemberStore {
        /**
         * Records, durably and before it returns, that {@code node} needs the log from
         * {@code lsn + 1} on (a full sync starting). Called on a network thread.
         */
        void pin(String node, long lsn) throws java.io.IOException;
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

    /** The primary's history now: a peer whose log left it is refused, and told it in WELCOME. */
    public ShipperConfig history(java.util.function.Supplier<io.tern.replication.history.History> history) {
        this.history = history;
        return this;
    }

    /** Bytes of records per RECORDS frame, at most (a single larger record still goes alone). */
    /**
     * Whether uncompressed sessions send record bytes straight from the segment files with
     * sendfile (default true; the JVM property {@code tern.replication.sendfile=false} turns it
     * off, for benchmarks that compare). Off, records are read, verified and copied into frames.
     */
    public ShipperConfig sendfile(boolean sendfile) {
        this.sendfile = sendfile;
        return this;
    }

    public boolean sendfile() {
        return sendfile;
    }

    public ShipperConfig maxBatchBytes(int bytes) {
        this.maxBatchBytes = bytes;
        return this;
    }

    /**
     * The device a full sync copies, with the LSN of the last record applied to it and the last
     * LSN appended to its log, durable or not (records past {@code applied} may be half applied
     * while a chunk is read; none past {@code logged} can be). Without a device, full syncs are
     * refused.
     */
    public ShipperConfig device(BlockDevice device, LongSupplier appliedLsn, LongSupplier loggedLsn) {
        this.device = device;
        this.appliedLsn = appliedLsn;
        this.loggedLsn = loggedLsn;
        return this;
    }

    public ShipperConfig members(MemberStore members) {
        this.members = members;
        return this;
    }

    public ShipperConfig conclude() {
        if (!concluded) {
            Objects.requireNonNull(resource, "resource");
            Objects.requireNonNull(log, "log");
            Objects.requireNonNull(members, "members");
            if (maxBatchBytes < 4096) {
                throw new IllegalArgumentException("maxBatchBytes must be >= 4096");
            }
            concluded = true;
        }
        return this;
    }

    public String resource() {
        return resource;
    }

    public TransactionLog log() {
        return log;
    }

    public io.tern.replication.history.History history() {
        return history.get();
    }

    public long epoch() {
        return history().epoch();
    }

    public int maxBatchBytes() {
        return maxBatchBytes;
    }

    public BlockDevice device() {
        return device;
    }

    public long appliedLsn() {
        return appliedLsn.getAsLong();
    }

    public long loggedLsn() {
        return loggedLsn.getAsLong();
    }

    public MemberStore members() {
        return members;
    }
}
