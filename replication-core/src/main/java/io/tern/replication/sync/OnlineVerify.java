package io.tern.replication.sync;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.tern.block.BlockDevice;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.Frame;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.FrameDecoder;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.PeerConnector;
import io.tern.replication.protocol.ProtocolException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An online verify of a secondary against its primary ({@code tern verify}): this node's disk is
 * held at the primary's image after {@code pinnedLsn} (replay paused there) while the primary
 * keeps taking writes. Chunk by chunk this node sends the digest of each 4 KiB block it holds;
 * the primary compares with its own blocks and names those that differ although no record after
 * the pin wrote them (a changed block proves nothing): real differences, corruption behind
 * Tern's back. With {@code repair} the primary's bytes of those blocks are written here; they
 * are the image at the pin, since nothing wrote them since.
 *
 * <p>Reads and digests run on a thread of their own, ahead of the requests, so that both disks
 * are read at once. One session: a lost connection fails the verify (run it again).
 */
public final class OnlineVerify {
    private static final Logger log = LoggerFactory.getLogger(OnlineVerify.class);
    private static final int CHUNK = 1 << 20;
    private static final int BLOCK = 4096;
    private static final int WINDOW = 8;

    /**
     * What a verify found.
     *
     * @param pinnedLsn     the LSN both images were compared at
     * @param comparedBytes bytes compared (the device)
     * @param ranges        the differing ranges, {@code [offset, length]}, in order, adjacent blocks merged
     * @param repairedBytes bytes written here from the primary ({@code repair} only)
     * @param nanos         how long it took
     */
    public record Result(long pinnedLsn, long comparedBytes, List<long[]> ranges, long repairedBytes, long nanos) {
        public long differingBytes() {
            return ranges.stream().mapToLong(r -> r[1]).sum();
        }
    }

    private final String clusterId;
    private final String resource;
    private final String node;
    private final BlockDevice device;
    private final long pinnedLsn;
    private final boolean repair;
    private final BlockDigest digest;
    private final CompletableFuture<Result> done = new CompletableFuture<>();
    private final PeerConnector connector;
    private final List<long[]> ranges = new ArrayList<>();
    private final long started = System.nanoTime();
    private long repaired;
    private volatile long compared;

    private OnlineVerify(String clusterId, String resource, String node, InetSocketAddress primary, BlockDevice device,
                         long pinnedLsn, boolean repair, BlockDigest digest) {
        this.clusterId = clusterId;
        this.resource = resource;
        this.node = node;
        this.device = device;
        this.pinnedLsn = pinnedLsn;
        this.repair = repair;
        this.digest = digest;
        this.connector = new PeerConnector(resource + ": verify", primary, c -> {
            c.pipeline().addLast(new FrameDecoder());
            io.tern.replication.protocol.Keepalive.install(c.pipeline());
            c.pipeline().addLast(new Session());
        }, done::isDone);
    }

    /** Starts a verify; the future completes with what it found, or fails with why it could not finish. */
    public static CompletableFuture<Result> start(String clusterId, String resource, String node, InetSocketAddress primary,
                                                  BlockDevice device, long pinnedLsn, boolean repair, BlockDigest digest,
                                                  io.tern.security.Transport transport) {
        OnlineVerify v = new OnlineVerify(clusterId, resource, node, primary, device, pinnedLsn, repair, digest);
        v.connector.transport(transport, null);
        v.done.whenComplete((r, e) -> v.connector.close()); // cancelling the future stops the verify too
        v.connector.connect();
        return v.done;
    }

    /** Bytes compared so far. */
    public long compared() {
        return compared;
    }

    private void differ(long offset, long length) {
        long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
        if (last != null && last[0] + last[1] == offset) {
            last[1] += length;
        } else {
            ranges.add(new long[] {offset, length});
        }
    }

    private final class Session extends ChannelInboundHandlerAdapter {
        private final ArrayBlockingQueue<Messages.SyncDigest> ready = new ArrayBlockingQueue<>(WINDOW * 2);
        private Thread reader;
        private volatile boolean stopped;
        private long expected;
        private int outstanding;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Messages.Hello hello = new Messages.Hello(clusterId, resource, node, List.of(), pinnedLsn + 1,
                    Messages.Mode.VERIFY, 0);
            FrameCodec.send(ctx, MessageType.HELLO, b -> Messages.encode(hello, b));
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Frame f = (Frame) msg;
            try {
                switch (f.type()) {
                    case WELCOME -> welcome(ctx, Messages.decodeWelcome(f.payload()));
                    case REJECT -> {
                        Messages.Reject r = Messages.decodeReject(f.payload());
                        done.completeExceptionally(new IllegalStateException("the primary refused the verify: "
                                + r.reason()));
                        ctx.close();
                    }
                    case SYNC_DATA -> answer(ctx, Messages.decodeSyncData(f.payload()));
                    case PING -> Messages.decodePing(f.payload());
                    default -> throw new ProtocolException(ErrorCode.PROTOCOL, "unexpected " + f.type() + " in a verify");
                }
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
                ctx.close();
            } finally {
                f.release();
            }
        }

        private void welcome(ChannelHandlerContext ctx, Messages.Welcome w) {
            if (w.size() != device.size()) {
                throw new IllegalStateException("the primary's device holds " + w.size() + " bytes, this one "
                        + device.size());
            }
            connector.welcomed();
            reader = new Thread(io.tern.log.Mdc.resource(resource, () -> read(ctx)), "tern-verify-" + resource);
            reader.setDaemon(true);
            reader.start();
        }

        /** Reads and digests this node's chunks ahead of the requests. */
        private void read(ChannelHandlerContext ctx) {
            ByteBuffer mine = ByteBuffer.allocateDirect(CHUNK);
            long size = device.size();
            try {
                for (long offset = 0; offset < size && !stopped; offset += CHUNK) {
                    int length = (int) Math.min(CHUNK, size - offset);
                    mine.clear().limit(length);
                    device.read(offset, mine).join();
                    mine.flip();
                    Messages.SyncDigest d = Messages.SyncDigest.of(offset, mine, BLOCK, digest);
                    while (!stopped && !ready.offer(d, 100, TimeUnit.MILLISECONDS)) {
                        // the window is full: wait for answers
                    }
                    ctx.executor().execute(() -> askMore(ctx));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
                ctx.close();
            }
        }

        private void askMore(ChannelHandlerContext ctx) {
            while (outstanding < WINDOW && ctx.channel().isActive()) {
                Messages.SyncDigest d = ready.poll();
                if (d == null) {
                    return;
                }
                FrameCodec.send(ctx, MessageType.SYNC_DIGESTS, b -> Messages.encode(d, b));
                outstanding++;
            }
        }

        private void answer(ChannelHandlerContext ctx, Messages.SyncData d) {
            if (d.offset() != expected || d.block() != BLOCK) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "SYNC_DATA for " + d.offset() + ", expected " + expected);
            }
            for (int i = d.differs().nextSetBit(0); i >= 0; i = d.differs().nextSetBit(i + 1)) {
                int length = Messages.blockLength(d.length(), BLOCK, i);
                long at = d.offset() + (long) i * BLOCK;
                differ(at, length);
                ByteBuffer theirs = d.data().readSlice(length).nioBuffer();
                if (repair) {
                    device.write(at, theirs, false).join();
                    repaired += length;
                }
            }
            outstanding--;
            expected += d.length();
            compared = expected;
            if (expected >= device.size()) {
                if (repair && repaired > 0) {
                    device.flush().join();
                }
                Result r = new Result(pinnedLsn, expected, List.copyOf(ranges), repaired, System.nanoTime() - started);
                log.info("{}: verify against lsn {}: {} bytes compared, {} ranges ({} bytes) differ{}", resource, pinnedLsn,
                        expected, ranges.size(), r.differingBytes(), repair ? ", " + repaired + " bytes repaired" : "");
                done.complete(r);
                ctx.close();
            } else {
                askMore(ctx);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            stopped = true;
            if (!done.isDone()) {
                done.completeExceptionally(new IllegalStateException("the connection to the primary was lost after "
                        + expected + " bytes; run the verify again"));
            }
            ctx.fireChannelInactive();
        }
    }
}
