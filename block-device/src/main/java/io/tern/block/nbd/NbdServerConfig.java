package io.tern.block.nbd;

import java.net.InetSocketAddress;

import io.tern.block.BlockDevice;

/** Settings of an {@link NbdServer}, validated once by {@link #conclude()}. */
public final class NbdServerConfig {
    /**
     * What a request without data (FLUSH, TRIM, WRITE_ZEROES, a READ of 0 bytes) costs against
     * {@link #maxInFlightBytes()}: every request costs at least this much, so one connection has
     * at most {@code maxInFlightBytes / MIN_REQUEST_COST} requests in flight, whatever they are.
     */
    public static final int MIN_REQUEST_COST = 4 << 10;

    private InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 10809);
    private int maxPayload = BlockDevice.MAX_REQUEST;
    private long maxInFlightBytes = 256L << 20;
    private int eventLoopThreads = 2;
    private int ioThreads = 4;
    private boolean concluded;
    private java.util.function.Supplier<io.netty.handler.ssl.SslContext> tls;

    /** Where to listen; loopback by default. Port 0 picks a free port. */
    public NbdServerConfig listen(InetSocketAddress listen) {
        this.listen = listen;
        return this;
    }

    /** Largest READ or WRITE accepted, advertised as the maximum block size. */
    public NbdServerConfig maxPayload(int maxPayload) {
        this.maxPayload = maxPayload;
        return this;
    }

    /**
     * Request data one connection may hold before it stops reading its socket: a READ costs its
     * length, a WRITE its payload, and no request less than {@link #MIN_REQUEST_COST}.
     */
    public NbdServerConfig maxInFlightBytes(long bytes) {
        this.maxInFlightBytes = bytes;
        return this;
    }

    /** Netty event loops serving every connection's socket; they never wait on a device. */
    public NbdServerConfig eventLoopThreads(int threads) {
        this.eventLoopThreads = threads;
        return this;
    }

    /**
     * Threads ({@code tern-nbd-io-N}) that call the devices for READ, FLUSH, TRIM and
     * WRITE_ZEROES, which may block on disk I/O; shared by every connection.
     */
    public NbdServerConfig ioThreads(int threads) {
        this.ioThreads = threads;
        return this;
    }

    /**
     * Requires TLS (NBD's STARTTLS) on every connection, with the context {@code tls} gives at
     * each STARTTLS (so a reloaded certificate is used from the next connection on); {@code null}:
     * no TLS, STARTTLS refused by policy.
     */
    public NbdServerConfig tls(java.util.function.Supplier<io.netty.handler.ssl.SslContext> tls) {
        this.tls = tls;
        return this;
    }

    /** The TLS context source, or {@code null} without TLS. */
    public java.util.function.Supplier<io.netty.handler.ssl.SslContext> tls() {
        return tls;
    }

    public NbdServerConfig conclude() {
        if (concluded) {
            return this;
        }
        if (listen == null) {
            throw new IllegalArgumentException("listen address is not set");
        }
        if (maxPayload < 4096 || maxPayload > BlockDevice.MAX_REQUEST) {
            throw new IllegalArgumentException("maxPayload must be 4 KiB..32 MiB, was " + maxPayload);
        }
        if (maxInFlightBytes < 2L * maxPayload) {
            throw new IllegalArgumentException("maxInFlightBytes must hold at least two maximal requests");
        }
        if (eventLoopThreads < 1) {
            throw new IllegalArgumentException("eventLoopThreads must be >= 1, was " + eventLoopThreads);
        }
        if (ioThreads < 1) {
            throw new IllegalArgumentException("ioThreads must be >= 1, was " + ioThreads);
        }
        concluded = true;
        return this;
    }

    public InetSocketAddress listen() {
        return listen;
    }

    public int maxPayload() {
        return maxPayload;
    }

    public long maxInFlightBytes() {
        return maxInFlightBytes;
    }

    public int eventLoopThreads() {
        return eventLoopThreads;
    }

    public int ioThreads() {
        return ioThreads;
    }
}
