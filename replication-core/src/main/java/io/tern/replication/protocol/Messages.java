package io.tern.replication.protocol;

import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBuf;

/**
 * The fixed-shape messages of the replication protocol and their payload codecs. Strings are a
 * u16 length then UTF-8 bytes, bounded; numbers are i64 and must not be negative; a payload must
 * be consumed exactly. Anything else is a {@link ProtocolException}.
 *
 * <pre>
 *  HELLO    cluster id (str) | resource (str) | node (str) | epoch i64 | chain head 32 bytes | from lsn i64
 *  WELCOME  epoch i64 | first lsn i64 | last lsn i64
 *  REJECT   code u16 | reason (str)
 *  ACK      received lsn i64 | replayed lsn i64
 *  PING     sender's nanotime i64
 * </pre>
 */
public final class Messages {
    public static final int MAX_NAME = 255;
    public static final int MAX_REASON = 1024;
    public static final int DIGEST_LENGTH = 32;

    private Messages() {
    }

    /** A secondary asks a primary for a resource's records from {@code fromLsn}. */
    public record Hello(String clusterId, String resource, String node, long epoch, byte[] chainHead, long fromLsn) {
        public Hello {
            if (chainHead.length != DIGEST_LENGTH) {
                throw new IllegalArgumentException("chain head must be " + DIGEST_LENGTH + " bytes");
            }
            chainHead = chainHead.clone();
        }

        @Override
        public byte[] chainHead() {
            return chainHead.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Hello h && clusterId.equals(h.clusterId) && resource.equals(h.resource)
                    && node.equals(h.node) && epoch == h.epoch && java.util.Arrays.equals(chainHead, h.chainHead)
                    && fromLsn == h.fromLsn;
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(clusterId, resource, node, epoch, java.util.Arrays.hashCode(chainHead), fromLsn);
        }
    }

    public record Welcome(long epoch, long firstLsn, long lastLsn) {
    }

    public record Reject(ErrorCode code, String reason) {
    }

    public record Ack(long receivedLsn, long replayedLsn) {
    }

    public record Ping(long nanos) {
    }

    public static void encode(Hello h, ByteBuf out) {
        string(out, h.clusterId(), MAX_NAME);
        string(out, h.resource(), MAX_NAME);
        string(out, h.node(), MAX_NAME);
        out.writeLong(h.epoch()).writeBytes(h.chainHead).writeLong(h.fromLsn());
    }

    public static Hello decodeHello(ByteBuf in) {
        Hello h = new Hello(string(in, MAX_NAME), string(in, MAX_NAME), string(in, MAX_NAME), number(in, "epoch"),
                bytes(in, DIGEST_LENGTH), number(in, "from lsn"));
        end(in, MessageType.HELLO);
        return h;
    }

    public static void encode(Welcome w, ByteBuf out) {
        out.writeLong(w.epoch()).writeLong(w.firstLsn()).writeLong(w.lastLsn());
    }

    public static Welcome decodeWelcome(ByteBuf in) {
        Welcome w = new Welcome(number(in, "epoch"), number(in, "first lsn"), number(in, "last lsn"));
        end(in, MessageType.WELCOME);
        return w;
    }

    public static void encode(Reject r, ByteBuf out) {
        out.writeShort(r.code().code());
        string(out, r.reason(), MAX_REASON);
    }

    public static Reject decodeReject(ByteBuf in) {
        need(in, 2, "reject code");
        ErrorCode code = ErrorCode.of(in.readUnsignedShort());
        if (code == null) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "unknown reject code");
        }
        Reject r = new Reject(code, string(in, MAX_REASON));
        end(in, MessageType.REJECT);
        return r;
    }

    public static void encode(Ack a, ByteBuf out) {
        out.writeLong(a.receivedLsn()).writeLong(a.replayedLsn());
    }

    public static Ack decodeAck(ByteBuf in) {
        Ack a = new Ack(number(in, "received lsn"), number(in, "replayed lsn"));
        end(in, MessageType.ACK);
        if (a.replayedLsn() > a.receivedLsn()) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "ACK replayed lsn " + a.replayedLsn()
                    + " is past received lsn " + a.receivedLsn());
        }
        return a;
    }

    public static void encode(Ping p, ByteBuf out) {
        out.writeLong(p.nanos());
    }

    public static Ping decodePing(ByteBuf in) {
        need(in, 8, "ping");
        Ping p = new Ping(in.readLong());
        end(in, MessageType.PING);
        return p;
    }

    private static void string(ByteBuf out, String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > max) {
            throw new IllegalArgumentException("string of " + b.length + " bytes exceeds " + max);
        }
        out.writeShort(b.length).writeBytes(b);
    }

    private static String string(ByteBuf in, int max) {
        need(in, 2, "string length");
        int n = in.readUnsignedShort();
        if (n > max) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "string of " + n + " bytes exceeds " + max);
        }
        need(in, n, "string");
        return in.readCharSequence(n, StandardCharsets.UTF_8).toString();
    }

    private static long number(ByteBuf in, String what) {
        need(in, 8, what);
        long v = in.readLong();
        if (v < 0) {
            throw new ProtocolException(ErrorCode.PROTOCOL, what + " " + v + " is negative");
        }
        return v;
    }

    private static byte[] bytes(ByteBuf in, int n) {
        need(in, n, "digest");
        byte[] b = new byte[n];
        in.readBytes(b);
        return b;
    }

    private static void need(ByteBuf in, int n, String what) {
        if (in.readableBytes() < n) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "message ends inside its " + what);
        }
    }

    private static void end(ByteBuf in, MessageType type) {
        if (in.isReadable()) {
            throw new ProtocolException(ErrorCode.PROTOCOL, type + " has " + in.readableBytes() + " trailing bytes");
        }
    }
}
