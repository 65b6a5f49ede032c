package io.tern.replication.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.tern.replication.history.History;
import io.tern.replication.history.Version;

/**
 * The fixed-shape messages of the replication protocol and their payload codecs. Strings are a
 * u16 length then UTF-8 bytes, bounded; numbers are i64 and must not be negative; a payload must
 * be consumed exactly. Anything else is a {@link ProtocolException}.
 *
 * <pre>
 *  HELLO        cluster id (str) | resource (str) | node (str) | history | from lsn i64 | mode u8
 *               | flags u8 (1: compress what you send me; 2: SYNC only: my disk is consistent at
 *               from lsn - 1, send only the chunks changed since if you kept them)
 *  WELCOME      epoch i64 | first lsn i64 | last lsn i64 | size i64 | start lsn i64 | history
 *               | dirty u8 (0: none; 1: then a u32 byte count and a bitmap, a bit per
 *               {@link #DIRTY_CHUNK} bytes of the device, LSB first: the only chunks a SYNC copies)
 *  history      count u16 (at most {@link History#MAX_WIRE_VERSIONS}), oldest first, per version:
 *               epoch i64 | start lsn i64 | node (str) | previous digest 32 bytes; each must
 *               follow the one before it (its digest is computed, never sent)
 *  REJECT       code u16 | reason (str)
 *  STATE        node (str) | role u8 (0 secondary, 1 primary, 2 failed) | last lsn i64 | history
 *  HANDOVER     kind u8 (1 request, 2 ready, 3 refused) | lsn i64 | reason (str)
 *  ACK          received lsn i64 | replayed lsn i64
 *  PING         sender's nanotime i64
 *  LINKS        count u16 | per link: name (str) | value (str) | lamport i64 | node (str) | deleted u8
 *  SYNC_DIGESTS offset i64 | length i32 | block i32 | algorithm u8 ({@link BlockDigest}) | a
 *               digest per block of the chunk (secondary: "here is what I hold")
 *  SYNC_DATA    offset i64 | length i32 | block i32 | lsn i64 | bitmap, a bit per block (1 =
 *               differs, LSB first) | the bytes of the differing blocks, in order
 * </pre>
 * A HELLO's mode says what the session is for: {@link Mode#STREAM} records from {@code from lsn};
 * {@link Mode#LINKS} the mesh session every member keeps with every other (LINKS, STATE and
 * HANDOVER both ways, whatever the roles); {@link Mode#SYNC} a full copy of the device, chunk by chunk, that the secondary will follow with
 * records from {@code from lsn} (0: "give me a start", answered in WELCOME's start lsn, which the
 * primary keeps in its log from then on); {@link Mode#PROBE} only the WELCOME (size, epoch) that
 * {@code tern join} needs; {@link Mode#VERIFY} an online verify: the peer's disk holds the
 * primary's image at {@code from lsn - 1}; it asks chunk by chunk like a SYNC, and SYNC_DATA
 * names only the blocks that differ although no record after {@code from lsn - 1} wrote them.
 */
public final class Messages {
    public static final int MAX_NAME = 255;
    public static final int MAX_REASON = 1024;
    /** The largest chunk a full sync may ask for. */
    public static final int MAX_CHUNK = 4 << 20;
    /** The unit of a WELCOME's dirty map: a bit per this many bytes of the device. */
    public static final int DIRTY_CHUNK = 1 << 20;
    /** The largest dirty map a WELCOME may carry, in bytes (8 TiB of device). */
    public static final int MAX_DIRTY_BYTES = 1 << 20;
    /** Links per LINKS message, at most. */
    public static final int MAX_LINKS = 4096;

    /** What a session is for. */
    public enum Mode { STREAM, SYNC, PROBE, LINKS, VERIFY }

    private Messages() {
    }

    /**
     * A peer asks for a resource's records from {@code fromLsn}; {@code history} is its own
     * (the newest {@link History#MAX_WIRE_VERSIONS} versions), so that the primary can tell
     * whether its log up to {@code fromLsn - 1} lies on the primary's.
     */
    public record Hello(String clusterId, String resource, String node, List<Version> history, long fromLsn,
                        Mode mode, int flags) {
        /** Flag: the peer wants what it is sent compressed ({@link FrameCodec#FLAG_ZSTD}). */
        public static final int COMPRESS = 1;
        /**
         * Flag (SYNC): the sender's disk is consistent at {@code fromLsn - 1}; if the primary kept
         * a dirty map for it from there (it went Ahead of this node), only those chunks are copied.
         */
        public static final int DIRTY = 2;

        public static Hello of(String clusterId, String resource, String node, History history, long fromLsn, Mode mode,
                               boolean compress) {
            return new Hello(clusterId, resource, node, history.forWire(), fromLsn, mode, compress ? COMPRESS : 0);
        }

        public Hello {
            history = List.copyOf(history);
        }

        /** The sender's epoch: its newest version's, 0 if it has none. */
        public long epoch() {
            return history.isEmpty() ? 0 : history.get(history.size() - 1).epoch();
        }
    }

    /** The primary's answer: its epoch, its log's first and last durable LSN, the device size, and for SYNC the start LSN. */
    public record Welcome(long epoch, long firstLsn, long lastLsn, long size, long startLsn, List<Version> history,
                          java.util.BitSet dirty) {
        public Welcome {
            history = List.copyOf(history);
            dirty = dirty == null ? null : (java.util.BitSet) dirty.clone();
        }

        public Welcome(long epoch, long firstLsn, long lastLsn, long size, long startLsn, List<Version> history) {
            this(epoch, firstLsn, lastLsn, size, startLsn, history, null);
        }

        /** The only chunks ({@link #DIRTY_CHUNK} bytes each) a SYNC copies, or {@code null} for the whole device. */
        @Override
        public java.util.BitSet dirty() {
            return dirty == null ? null : (java.util.BitSet) dirty.clone();
        }
    }

    /**
     * A full sync's question about one chunk: the digest of each {@code block}-sized piece of
     * what the secondary holds there (the last piece may be shorter), by {@code algorithm}.
     */
    public record SyncDigest(long offset, int length, int block, BlockDigest algorithm, byte[] digests) {
        public SyncDigest {
            if (digests.length != blocks(length, block) * algorithm.length()) {
                throw new IllegalArgumentException(digests.length + " digest bytes for " + blocks(length, block) + " blocks");
            }
        }

        /** The question about the chunk at {@code offset} whose bytes {@code chunk} holds (position to limit). */
        public static SyncDigest of(long offset, ByteBuffer chunk, int block, BlockDigest algorithm) {
            int length = chunk.remaining();
            int n = blocks(length, block);
            byte[] digests = new byte[n * algorithm.length()];
            for (int i = 0; i < n; i++) {
                algorithm.digest(chunk.slice(chunk.position() + i * block, blockLength(length, block, i)), digests,
                        i * algorithm.length());
            }
            return new SyncDigest(offset, length, block, algorithm, digests);
        }
    }

    /**
     * The primary's answer about one chunk: which blocks differ ({@code differs}, a bit per
     * block) and their bytes, concatenated ({@code data}, null or empty when none differ).
     * {@code lsn} is the log's end just after the read: no record past it can show in those bytes.
     */
    public record SyncData(long offset, int length, int block, long lsn, java.util.BitSet differs, ByteBuf data) {
    }

    public record Reject(ErrorCode code, String reason) {
    }

    /** A member's role for a resource. */
    public enum Role { SECONDARY, PRIMARY, FAILED }

    /** What a member tells its peers on the mesh: its role, the last LSN its log holds, its history. */
    public record State(String node, Role role, long lastLsn, List<Version> history) {
        public State {
            history = List.copyOf(history);
        }
    }

    /** Steps of a planned handover: asked by the new primary, answered by the old one. */
    public enum HandoverKind { REQUEST, READY, REFUSED }

    /** A handover step: READY carries the LSN the old primary's log ends at, REFUSED the reason. */
    public record Handover(HandoverKind kind, long lsn, String reason) {
    }

    public record Ack(long receivedLsn, long replayedLsn) {
    }

    public record Ping(long nanos) {
    }

    /** Blocks of {@code block} bytes in a chunk of {@code length} (the last may be shorter). */
    public static int blocks(int length, int block) {
        return (length + block - 1) / block;
    }

    /** Length of block {@code i} of a chunk. */
    public static int blockLength(int length, int block, int i) {
        return Math.min(block, length - i * block);
    }

    public static void encode(Hello h, ByteBuf out) {
        string(out, h.clusterId(), MAX_NAME);
        string(out, h.resource(), MAX_NAME);
        string(out, h.node(), MAX_NAME);
        encodeHistory(h.history(), out);
        out.writeLong(h.fromLsn()).writeByte(h.mode().ordinal()).writeByte(h.flags());
    }

    public static Hello decodeHello(ByteBuf in) {
        String cluster = string(in, MAX_NAME);
        String resource = string(in, MAX_NAME);
        String node = string(in, MAX_NAME);
        List<Version> history = decodeHistory(in);
        long from = number(in, "from lsn");
        need(in, 1, "mode");
        int mode = in.readUnsignedByte();
        if (mode >= Mode.values().length) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "unknown HELLO mode " + mode);
        }
        need(in, 1, "flags");
        int flags = in.readUnsignedByte();
        if ((flags & ~(Hello.COMPRESS | Hello.DIRTY)) != 0) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "unknown HELLO flags " + flags);
        }
        Hello h = new Hello(cluster, resource, node, history, from, Mode.values()[mode], flags);
        end(in, MessageType.HELLO);
        return h;
    }

    public static void encode(Welcome w, ByteBuf out) {
        out.writeLong(w.epoch()).writeLong(w.firstLsn()).writeLong(w.lastLsn()).writeLong(w.size()).writeLong(w.startLsn());
        encodeHistory(w.history(), out);
        if (w.dirty == null) {
            out.writeByte(0);
        } else {
            byte[] map = w.dirty.toByteArray();
            out.writeByte(1).writeInt(map.length).writeBytes(map);
        }
    }

    public static Welcome decodeWelcome(ByteBuf in) {
        long epoch = number(in, "epoch");
        long first = number(in, "first lsn");
        long last = number(in, "last lsn");
        long size = number(in, "size");
        long start = number(in, "start lsn");
        List<Version> history = decodeHistory(in);
        need(in, 1, "dirty");
        java.util.BitSet dirty = null;
        int present = in.readUnsignedByte();
        if (present == 1) {
            need(in, 4, "dirty map length");
            long n = in.readUnsignedInt();
            if (n > MAX_DIRTY_BYTES || n > (size / DIRTY_CHUNK + 8) / 8 + 1) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "a dirty map of " + n + " bytes for a device of " + size);
            }
            dirty = java.util.BitSet.valueOf(bytes(in, (int) n));
        } else if (present != 0) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "dirty map marker " + present);
        }
        Welcome w = new Welcome(epoch, first, last, size, start, history, dirty);
        end(in, MessageType.WELCOME);
        return w;
    }

    public static void encode(State st, ByteBuf out) {
        string(out, st.node(), MAX_NAME);
        out.writeByte(st.role().ordinal()).writeLong(st.lastLsn());
        encodeHistory(st.history(), out);
    }

    public static State decodeState(ByteBuf in) {
        String node = string(in, MAX_NAME);
        need(in, 1, "role");
        int role = in.readUnsignedByte();
        if (role >= Role.values().length) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "unknown role " + role);
        }
        State st = new State(node, Role.values()[role], number(in, "last lsn"), decodeHistory(in));
        end(in, MessageType.STATE);
        return st;
    }

    public static void encode(Handover h, ByteBuf out) {
        out.writeByte(h.kind().ordinal() + 1).writeLong(h.lsn());
        string(out, h.reason(), MAX_REASON);
    }

    public static Handover decodeHandover(ByteBuf in) {
        need(in, 1, "handover kind");
        int kind = in.readUnsignedByte();
        if (kind < 1 || kind > HandoverKind.values().length) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "unknown handover kind " + kind);
        }
        Handover h = new Handover(HandoverKind.values()[kind - 1], number(in, "handover lsn"), string(in, MAX_REASON));
        end(in, MessageType.HANDOVER);
        return h;
    }

    private static void encodeHistory(List<Version> history, ByteBuf out) {
        if (history.size() > History.MAX_WIRE_VERSIONS) {
            throw new IllegalArgumentException(history.size() + " versions; at most " + History.MAX_WIRE_VERSIONS
                    + " go on the wire");
        }
        out.writeShort(history.size());
        for (Version v : history) {
            out.writeLong(v.epoch()).writeLong(v.start());
            string(out, v.node(), MAX_NAME);
            out.writeBytes(v.prev());
        }
    }

    private static List<Version> decodeHistory(ByteBuf in) {
        need(in, 2, "history length");
        int n = in.readUnsignedShort();
        if (n > History.MAX_WIRE_VERSIONS) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "a history of " + n + " versions; at most "
                    + History.MAX_WIRE_VERSIONS);
        }
        List<Version> versions = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long epoch = number(in, "version epoch");
            long start = number(in, "version start");
            String node = string(in, MAX_NAME);
            byte[] prev = bytes(in, Version.DIGEST_LENGTH);
            try {
                versions.add(Version.start(epoch, node, start, prev));
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "bad version in history: " + e.getMessage());
            }
        }
        try {
            History.of(versions);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "history does not chain: " + e.getMessage());
        }
        return versions;
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

    /** A LINKS payload: the links as they are (validated by the store that merges them). */
    public static void encodeLinks(java.util.List<io.tern.links.Link> links, ByteBuf out) {
        if (links.size() > MAX_LINKS) {
            throw new IllegalArgumentException(links.size() + " links exceed " + MAX_LINKS);
        }
        out.writeShort(links.size());
        for (io.tern.links.Link l : links) {
            string(out, l.name(), MAX_NAME);
            string(out, l.value(), MAX_REASON);
            out.writeLong(l.lamport());
            string(out, l.node(), MAX_NAME);
            out.writeByte(l.deleted() ? 1 : 0);
        }
    }

    public static java.util.List<io.tern.links.Link> decodeLinks(ByteBuf in) {
        need(in, 2, "link count");
        int n = in.readUnsignedShort();
        if (n > MAX_LINKS) {
            throw new ProtocolException(ErrorCode.PROTOCOL, n + " links exceed " + MAX_LINKS);
        }
        java.util.List<io.tern.links.Link> links = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String name = string(in, MAX_NAME);
            String value = string(in, MAX_REASON);
            long lamport = number(in, "lamport time");
            String node = string(in, MAX_NAME);
            need(in, 1, "deleted flag");
            int deleted = in.readUnsignedByte();
            if (deleted > 1 || lamport < 1) {
                throw new ProtocolException(ErrorCode.PROTOCOL, "link " + name + " is malformed");
            }
            links.add(new io.tern.links.Link(name, deleted == 1 ? null : value, lamport, node, deleted == 1));
        }
        end(in, MessageType.LINKS);
        return links;
    }

    public static void encode(SyncDigest d, ByteBuf out) {
        out.writeLong(d.offset()).writeInt(d.length()).writeInt(d.block()).writeByte(d.algorithm().id())
                .writeBytes(d.digests());
    }

    public static SyncDigest decodeSyncDigest(ByteBuf in) {
        long offset = number(in, "chunk offset");
        int length = chunkLength(in);
        int block = blockSize(in);
        need(in, 1, "digest algorithm");
        BlockDigest algorithm = BlockDigest.ofId(in.readUnsignedByte());
        SyncDigest d = new SyncDigest(offset, length, block, algorithm,
                bytes(in, blocks(length, block) * algorithm.length()));
        end(in, MessageType.SYNC_DIGESTS);
        return d;
    }

    /** Writes a SYNC_DATA payload; {@code data} is copied, not released. */
    public static void encode(SyncData d, ByteBuf out) {
        int n = blocks(d.length(), d.block());
        out.writeLong(d.offset()).writeInt(d.length()).writeInt(d.block()).writeLong(d.lsn());
        byte[] bitmap = java.util.Arrays.copyOf(d.differs().toByteArray(), (n + 7) / 8);
        out.writeBytes(bitmap);
        if (d.data() != null) {
            out.writeBytes(d.data(), d.data().readerIndex(), d.data().readableBytes());
        }
    }

    /** Reads a SYNC_DATA payload; the data is a slice of {@code in}, valid while the frame is. */
    public static SyncData decodeSyncData(ByteBuf in) {
        long offset = number(in, "chunk offset");
        int length = chunkLength(in);
        int block = blockSize(in);
        long lsn = number(in, "lsn");
        int n = blocks(length, block);
        java.util.BitSet differs = java.util.BitSet.valueOf(bytes(in, (n + 7) / 8));
        if (differs.length() > n) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "SYNC_DATA marks block " + (differs.length() - 1)
                    + " of a chunk of " + n);
        }
        int expected = 0;
        for (int i = differs.nextSetBit(0); i >= 0; i = differs.nextSetBit(i + 1)) {
            expected += blockLength(length, block, i);
        }
        if (in.readableBytes() != expected) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "SYNC_DATA carries " + in.readableBytes()
                    + " bytes for differing blocks of " + expected);
        }
        return new SyncData(offset, length, block, lsn, differs, in.readSlice(expected));
    }

    private static int chunkLength(ByteBuf in) {
        need(in, 4, "chunk length");
        int length = in.readInt();
        if (length <= 0 || length > MAX_CHUNK || length % 512 != 0) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "chunk length " + length
                    + " is not a positive multiple of 512 up to " + MAX_CHUNK);
        }
        return length;
    }

    private static int blockSize(ByteBuf in) {
        need(in, 4, "block size");
        int block = in.readInt();
        if (block < 512 || block > MAX_CHUNK || Integer.bitCount(block) != 1) {
            throw new ProtocolException(ErrorCode.PROTOCOL, "block size " + block + " is not a power of two from 512 to "
                    + MAX_CHUNK);
        }
        return block;
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
        need(in, n, "digest or bitmap");
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
