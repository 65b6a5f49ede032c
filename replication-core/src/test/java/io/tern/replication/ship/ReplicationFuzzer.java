package io.tern.replication.ship;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;

import io.netty.buffer.Unpooled;
import io.tern.links.Link;
import io.tern.log.TransactionLog;
import io.tern.replication.history.Version;
import io.tern.replication.protocol.BlockDigest;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;
import io.tern.replication.protocol.Messages;
import io.tern.replication.protocol.ProtocolException;

/**
 * One fuzzing client of the replication listener: a seeded stream of cases, many per TCP
 * connection where the protocol allows it. Each case predicts the listener's answer from the
 * protocol's own decoders ({@link Messages}) and the listener's documented checks, then holds it
 * to that: a message that cannot be decoded closes the connection (with nothing but what was
 * already under way on it), a HELLO that can be is answered with WELCOME or the right REJECT, a
 * valid message keeps the session and gets its answer (SYNC_DATA for a chunk, HANDOVER for a
 * request, a moved member position for an ACK). Every wait has a deadline.
 *
 * <p>Thread contract: one thread per instance; the counts and the link bookkeeping are shared.
 */
final class ReplicationFuzzer implements Runnable {
    /** What a case sent, counted once per case. */
    enum Kind {
        GARBAGE, BAD_FRAME, WRONG_TYPE, TRUNCATED, OVERSIZED, HELLO, HELLO_MUTATED, HELLO_REJECTED, ACK, PING,
        SYNC_DIGESTS, STATE, LINKS, HANDOVER, MUTATED_MESSAGE, COMPRESSED
    }

    /** What the fuzzer attacks, and what it may look at to predict the answers. */
    record Target(InetSocketAddress address, String cluster, String resource, String primaryNode, long deviceSize,
                  TransactionLog log, LogShipper shipper) {
    }

    /** Counts shared by every fuzzer of a run, and the links the listener may have stored from them. */
    static final class Counts {
        final EnumMap<Kind, LongAdder> byKind = new EnumMap<>(Kind.class);
        final AtomicLong total = new AtomicLong();
        final LongAdder connections = new LongAdder();
        /** Names of links a member with the fuzzer's node names could have made the listener store. */
        final Set<String> storable = ConcurrentHashMap.newKeySet();
        /** Node names the fuzzer opened mesh sessions as. */
        final Set<String> meshNodes = ConcurrentHashMap.newKeySet();
        private final long quota;
        private final Semaphore pace;
        private final int paceEvery;

        Counts(long quota, Semaphore pace, int paceEvery) {
            this.quota = quota;
            this.pace = pace;
            this.paceEvery = paceEvery;
            for (Kind k : Kind.values()) {
                byKind.put(k, new LongAdder());
            }
        }

        void count(Kind kind) {
            byKind.get(kind).increment();
            if (total.incrementAndGet() % paceEvery == 0) {
                pace.release();
            }
        }

        private volatile boolean aborted;

        boolean done() {
            return aborted || total.get() >= quota;
        }

        void abort() {
            aborted = true;
        }

        String summary() {
            StringBuilder s = new StringBuilder();
            for (Kind k : Kind.values()) {
                s.append(s.length() == 0 ? "" : ", ").append(k.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'))
                        .append(' ').append(byKind.get(k).sum());
            }
            return s.toString();
        }
    }

    private static final Set<MessageType> ANY = EnumSet.allOf(MessageType.class);
    private static final Set<MessageType> NOTHING_BUT_PING = EnumSet.of(MessageType.PING);
    /** Link names and nodes as {@link io.tern.links.LinkStore} takes them. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._,:+-]{0,199}");
    private static final long MAX_LAMPORT = 1L << 60;

    private enum Outcome { VALID, INVALID, UNKNOWN }

    private final int id;
    private final Random r;
    private final Target target;
    private final Counts counts;
    private final int maxSteps;
    private long caseNo;
    /** What the current case sent, for the failure message. */
    private byte[] sent = new byte[0];
    private String doing = "";

    ReplicationFuzzer(int id, long seed, Target target, Counts counts, int maxSteps) {
        this.id = id;
        this.r = new Random(seed * 1_000_003L + id);
        this.target = target;
        this.counts = counts;
        this.maxSteps = maxSteps;
    }

    @Override
    public void run() {
        while (!counts.done()) {
            caseNo++;
            try {
                int pick = r.nextInt(100);
                if (pick < 6) {
                    garbage();
                } else if (pick < 12) {
                    preHello();
                } else if (pick < 24) {
                    mutatedHello();
                } else if (pick < 29) {
                    rejectedHello();
                } else {
                    session();
                }
            } catch (IOException | RuntimeException | AssertionError e) {
                throw new AssertionError("fuzzer " + id + ", connection " + caseNo + " (" + doing + "): " + e.getMessage()
                        + "\n  last bytes sent: " + FuzzWire.hex(sent), e);
            }
        }
    }

    private FuzzWire.Conn connect() throws IOException {
        counts.connections.increment();
        return new FuzzWire.Conn(target.address());
    }

    private boolean send(FuzzWire.Conn c, byte[] bytes) {
        sent = bytes;
        return c.send(bytes);
    }

    // ---------------------------------------------------------------- before HELLO

    /** Random bytes, sometimes behind a valid magic, version and type. Nothing may be answered. */
    private void garbage() throws IOException {
        doing = "garbage";
        byte[] b = new byte[1 + r.nextInt(r.nextInt(8) == 0 ? 4096 : 300)];
        r.nextBytes(b);
        if (b.length >= 6 && r.nextBoolean()) {
            FuzzWire.putInt(b, 0, FrameCodec.MAGIC);
            b[4] = (byte) FrameCodec.VERSION;
            b[5] = (byte) (1 + r.nextInt(12));
        }
        counts.count(Kind.GARBAGE);
        try (FuzzWire.Conn c = connect()) {
            send(c, b);
            c.halfClose();
            c.awaitClose(NOTHING_BUT_PING, "garbage");
        }
    }

    /** A damaged HELLO frame, a frame of another type, or one too large for a stranger: closed unanswered. */
    private void preHello() throws IOException {
        byte[] hello = FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(validHello(randomMode()), b)));
        try (FuzzWire.Conn c = connect()) {
            boolean halfClose = false;
            switch (r.nextInt(4)) {
                case 0, 1 -> {
                    FuzzMutator.Damaged d = FuzzMutator.damage(r, hello, ReplicationServer.PRE_HELLO_MAX);
                    doing = "damaged HELLO frame (" + d.how() + ")";
                    counts.count(Kind.BAD_FRAME);
                    send(c, d.bytes());
                    halfClose = d.mayWait();
                }
                case 2 -> {
                    MessageType t = otherThan(EnumSet.of(MessageType.HELLO));
                    doing = t + " before HELLO";
                    counts.count(Kind.WRONG_TYPE);
                    send(c, FuzzWire.frame(t, someMessage(t)));
                }
                default -> {
                    doing = "oversized frame before HELLO";
                    counts.count(Kind.OVERSIZED);
                    if (r.nextBoolean()) {
                        byte[] header = FuzzWire.frame(MessageType.HELLO, new byte[0]);
                        FuzzWire.putInt(header, 8, ReplicationServer.PRE_HELLO_MAX + 1 + r.nextInt(1 << 30));
                        send(c, header);
                    } else {
                        byte[] pad = new byte[1 + r.nextInt(ReplicationServer.PRE_HELLO_MAX - hello.length)];
                        r.nextBytes(pad);
                        send(c, FuzzWire.frame(MessageType.HELLO, FuzzWire.concat(
                                java.util.Arrays.copyOfRange(hello, FrameCodec.HEADER_LENGTH, hello.length), pad)));
                    }
                }
            }
            if (halfClose) {
                c.halfClose();
            }
            c.awaitClose(NOTHING_BUT_PING, doing);
        }
    }

    /** A valid HELLO with one part mutated and framed correctly again: the decoder's verdict decides the answer. */
    private void mutatedHello() throws IOException {
        Messages.Hello h = r.nextInt(4) == 0 ? helloWithHistory() : validHello(randomMode());
        byte[] p = FuzzMutator.mutate(r, FuzzWire.payload(b -> Messages.encode(h, b)));
        if (p.length > ReplicationServer.PRE_HELLO_MAX) {
            p = java.util.Arrays.copyOf(p, ReplicationServer.PRE_HELLO_MAX);
        }
        doing = "mutated HELLO";
        counts.count(Kind.HELLO_MUTATED);
        Messages.Hello decoded;
        try {
            decoded = Messages.decodeHello(Unpooled.wrappedBuffer(p));
        } catch (ProtocolException e) {
            decoded = null;
        }
        try (FuzzWire.Conn c = connect()) {
            send(c, FuzzWire.frame(MessageType.HELLO, p));
            if (decoded == null) {
                c.awaitClose(NOTHING_BUT_PING, "a HELLO its decoder refuses");
                return;
            }
            FuzzWire.In first = c.await(EnumSet.of(MessageType.WELCOME, MessageType.REJECT), Set.of(),
                    "a mutated HELLO that decodes");
            if (first.type() == MessageType.REJECT) {
                Messages.Reject rej = Messages.decodeReject(Unpooled.wrappedBuffer(first.payload()));
                ErrorCode expected = expectedReject(decoded);
                if (expected != null && rej.code() != expected) {
                    throw new AssertionError("HELLO " + decoded + " was refused with " + rej.code() + ", expected " + expected);
                }
                c.awaitClose(NOTHING_BUT_PING, "REJECT");
                return;
            }
            if (expectedReject(decoded) != null) {
                throw new AssertionError("HELLO " + decoded + " was welcomed; expected " + expectedReject(decoded));
            }
            Messages.decodeWelcome(Unpooled.wrappedBuffer(first.payload()));
            if (decoded.mode() != Messages.Mode.PROBE) {
                c.halfClose();
            }
            c.awaitClose(ANY, "a welcomed mutated HELLO");
        }
    }

    /** The REJECT a decodable HELLO must get for sure, or null where WELCOME or several answers are possible. */
    private ErrorCode expectedReject(Messages.Hello h) {
        if (!h.clusterId().equals(target.cluster())) {
            return ErrorCode.WRONG_CLUSTER;
        }
        if (!h.resource().equals(target.resource())) {
            return ErrorCode.UNKNOWN_RESOURCE;
        }
        if (h.mode() == Messages.Mode.LINKS && h.node().equals(target.primaryNode())) {
            return ErrorCode.PROTOCOL;
        }
        return null;
    }

    /** A well-formed HELLO the listener must refuse, with the code it must give. */
    private void rejectedHello() throws IOException {
        Messages.Mode mode = randomMode();
        Messages.Hello h = validHello(mode);
        ErrorCode expected;
        switch (r.nextInt(5)) {
            case 0 -> {
                h = new Messages.Hello("c" + r.nextInt(1000), h.resource(), h.node(), h.history(), h.fromLsn(), mode, 0);
                expected = ErrorCode.WRONG_CLUSTER;
            }
            case 1 -> {
                h = new Messages.Hello(h.clusterId(), "r" + (1 + r.nextInt(1000)), h.node(), h.history(), h.fromLsn(), mode, 0);
                expected = ErrorCode.UNKNOWN_RESOURCE;
            }
            case 2 -> {
                h = new Messages.Hello(h.clusterId(), h.resource(), target.primaryNode(), h.history(), 0,
                        Messages.Mode.LINKS, 0);
                expected = ErrorCode.PROTOCOL; // a mesh session with itself
            }
            case 3 -> {
                h = new Messages.Hello(h.clusterId(), h.resource(), h.node(), List.of(),
                        target.log().durableLsn() + 100_000 + r.nextInt(1 << 20), Messages.Mode.STREAM, 0);
                expected = ErrorCode.SPLIT_BRAIN; // asks past the end of the log
            }
            default -> {
                h = new Messages.Hello(h.clusterId(), h.resource(), h.node(), List.of(),
                        target.log().durableLsn() + 100_000 + r.nextInt(1 << 20), Messages.Mode.VERIFY, 0);
                expected = ErrorCode.BEHIND_RETENTION; // cannot verify against an LSN the log does not have
            }
        }
        Messages.Hello hello = h;
        doing = "HELLO to be refused with " + expected;
        counts.count(Kind.HELLO_REJECTED);
        try (FuzzWire.Conn c = connect()) {
            send(c, FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(hello, b))));
            FuzzWire.In f = c.await(MessageType.REJECT, Set.of(), doing);
            Messages.Reject rej = Messages.decodeReject(Unpooled.wrappedBuffer(f.payload()));
            if (rej.code() != expected) {
                throw new AssertionError(doing + " got " + rej.code() + ": " + rej.reason());
            }
            c.awaitClose(NOTHING_BUT_PING, "REJECT");
        }
    }

    // ---------------------------------------------------------------- sessions

    private Messages.Mode randomMode() {
        return Messages.Mode.values()[r.nextInt(Messages.Mode.values().length)];
    }

    /** This fuzzer's node names: a few, so that what the listener keeps per peer stays bounded. */
    private String node() {
        return "fz" + id + "-" + r.nextInt(4);
    }

    private Messages.Hello validHello(Messages.Mode mode) {
        long durable = target.log().durableLsn();
        long first = target.log().firstLsn();
        long from = switch (mode) {
            case STREAM, VERIFY -> r.nextInt(20) == 0 ? first : Math.max(first, durable + 1 - r.nextInt(30));
            case SYNC -> r.nextBoolean() ? 0 : Math.max(first, durable + 1 - r.nextInt(30));
            default -> r.nextInt(3) == 0 ? r.nextLong() & Long.MAX_VALUE : 0;
        };
        int flags = r.nextInt(3) == 0 ? Messages.Hello.COMPRESS : 0;
        if (mode == Messages.Mode.SYNC && r.nextInt(4) == 0) {
            flags |= Messages.Hello.DIRTY;
        }
        return new Messages.Hello(target.cluster(), target.resource(), node(), List.of(), from, mode, flags);
    }

    /** A HELLO with a chained history of one to three versions (a fork as far as the primary is concerned). */
    private Messages.Hello helloWithHistory() {
        List<Version> versions = new ArrayList<>();
        byte[] prev = Version.ROOT;
        long start = 1;
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
            Version v = Version.start(i + 1, node(), start, prev);
            versions.add(v);
            prev = v.digest();
            start += 1 + r.nextInt(1000);
        }
        Messages.Hello h = validHello(randomMode());
        return new Messages.Hello(h.clusterId(), h.resource(), h.node(), versions, h.fromLsn(), h.mode(), h.flags());
    }

    /** A message the listener accepts in this session, with what the session expects back. */
    private record Msg(Kind kind, MessageType type, byte[] payload) {
    }

    /** One session type: its valid messages, how the listener judges any payload, how to see it is still there. */
    private abstract class Session {
        final String node;
        final boolean compressed;

        Session(String node, boolean compressed) {
            this.node = node;
            this.compressed = compressed;
        }

        abstract Set<MessageType> accepted();

        /** Frames the listener sends on its own in this session, passed over while an answer is awaited. */
        abstract Set<MessageType> unasked();

        abstract Msg valid();

        /** How the listener will take this payload of this type; for a VALID one, notes the answer to expect. */
        abstract Outcome judge(MessageType type, byte[] payload);

        /** Reads every answer expected so far, and checks the session is still open. */
        abstract void probe(FuzzWire.Conn c) throws IOException;

        /** Whether enough answers are owed that they should be read before more is asked. */
        boolean owes() {
            return false;
        }
    }

    private void session() throws IOException {
        Messages.Mode mode = switch (r.nextInt(20)) {
            case 0, 1, 2, 3, 4, 5 -> Messages.Mode.STREAM;
            case 6, 7, 8, 9 -> Messages.Mode.SYNC;
            case 10, 11 -> Messages.Mode.VERIFY;
            case 12 -> Messages.Mode.PROBE;
            default -> Messages.Mode.LINKS;
        };
        Messages.Hello hello = validHello(mode);
        doing = mode + " session as " + hello.node();
        counts.count(Kind.HELLO);
        try (FuzzWire.Conn c = connect()) {
            send(c, FuzzWire.frame(MessageType.HELLO, FuzzWire.payload(b -> Messages.encode(hello, b))));
            FuzzWire.In w = c.await(MessageType.WELCOME, Set.of(), "a valid " + mode + " HELLO");
            Messages.Welcome welcome = Messages.decodeWelcome(Unpooled.wrappedBuffer(w.payload()));
            boolean compressed = (hello.flags() & Messages.Hello.COMPRESS) != 0;
            Session s = switch (mode) {
                case PROBE -> null;
                case STREAM -> new Stream(hello.node(), compressed);
                case SYNC -> new Sync(hello.node(), compressed, false);
                case VERIFY -> new Sync(hello.node(), compressed, true);
                case LINKS -> new Mesh(hello.node());
            };
            if (s == null) {
                c.awaitClose(Set.of(), "a PROBE's WELCOME");
                return;
            }
            if (welcome.size() != (mode == Messages.Mode.LINKS ? 0 : target.deviceSize())) {
                throw new AssertionError("WELCOME says the device holds " + welcome.size() + " bytes");
            }
            int steps = 1 + r.nextInt(maxSteps);
            ByteArrayOutputStream batch = new ByteArrayOutputStream();
            for (int i = 0; i < steps; i++) {
                Msg m = s.valid();
                doing = mode + " session as " + hello.node() + ", valid " + m.type();
                counts.count(m.kind());
                if (s.judge(m.type(), m.payload()) != Outcome.VALID) {
                    throw new IllegalStateException("the fuzzer made a " + m.type() + " it does not judge valid itself");
                }
                batch.writeBytes(FuzzWire.frame(m.type(), m.payload()));
                if (s.owes() || batch.size() > 16 << 10 || r.nextInt(8) == 0) {
                    flush(c, batch);
                    s.probe(c);
                }
            }
            flush(c, batch);
            s.probe(c);
            while (!hostile(c, s)) {
                s.probe(c);
            }
        }
    }

    private void flush(FuzzWire.Conn c, ByteArrayOutputStream batch) {
        if (batch.size() > 0) {
            if (!send(c, batch.toByteArray())) {
                throw new AssertionError("the listener closed a session that was sent only valid messages");
            }
            batch.reset();
        }
    }

    /**
     * One hostile case at the end of a session: returns true once the session is over (closed by
     * the listener, which the case checked), false if the case turned out valid and it goes on.
     */
    private boolean hostile(FuzzWire.Conn c, Session s) throws IOException {
        Msg m = s.valid();
        String base = doing.replaceAll(", .*", "");
        switch (r.nextInt(8)) {
            case 0 -> {
                FuzzMutator.Damaged d = FuzzMutator.damage(r, FuzzWire.frame(m.type(), m.payload()), FrameCodec.MAX_PAYLOAD);
                doing = base + ", damaged " + m.type() + " frame (" + d.how() + ")";
                counts.count(Kind.BAD_FRAME);
                send(c, d.bytes());
                if (d.mayWait()) {
                    c.halfClose();
                }
                c.awaitClose(ANY, doing);
                return true;
            }
            case 1, 2 -> {
                byte[] p = FuzzMutator.mutate(r, m.payload());
                doing = base + ", mutated " + m.type();
                counts.count(Kind.MUTATED_MESSAGE);
                return judged(c, s, m.type(), 0, p, p);
            }
            case 3 -> {
                MessageType t = otherThan(s.accepted());
                doing = base + ", " + t + " (not accepted here)";
                counts.count(Kind.WRONG_TYPE);
                send(c, FuzzWire.frame(t, someMessage(t)));
                c.awaitClose(ANY, doing);
                return true;
            }
            case 4 -> {
                byte[] f = FuzzWire.frame(m.type(), m.payload());
                doing = base + ", truncated " + m.type();
                counts.count(Kind.TRUNCATED);
                send(c, java.util.Arrays.copyOf(f, r.nextInt(f.length)));
                c.halfClose();
                c.awaitClose(ANY, doing);
                return true;
            }
            case 5 -> {
                counts.count(Kind.OVERSIZED);
                if (r.nextBoolean()) {
                    doing = base + ", " + m.type() + " header past the bound";
                    byte[] header = FuzzWire.frame(m.type(), new byte[0]);
                    FuzzWire.putInt(header, 8, (int) (FrameCodec.MAX_PAYLOAD + 1L + (r.nextLong() & 0x7FFFFFFFL)
                            % (0xFFFFFFFFL - FrameCodec.MAX_PAYLOAD)));
                    send(c, header);
                    c.awaitClose(ANY, doing);
                    return true;
                }
                byte[] pad = new byte[1 + r.nextInt(r.nextInt(10) == 0 ? 1 << 20 : 4096)];
                r.nextBytes(pad);
                byte[] p = FuzzWire.concat(m.payload(), pad);
                doing = base + ", " + m.type() + " with " + pad.length + " bytes too many";
                return judged(c, s, m.type(), 0, p, p);
            }
            case 6 -> {
                byte[] packed = com.github.luben.zstd.Zstd.compress(m.payload(), 1);
                if (r.nextBoolean()) {
                    packed = FuzzMutator.mutate(r, packed);
                }
                doing = base + ", zstd " + m.type();
                counts.count(Kind.COMPRESSED);
                return judged(c, s, m.type(), FrameCodec.FLAG_ZSTD, packed, unpacked(packed));
            }
            default -> {
                doing = base + ", end";
                c.halfClose();
                c.awaitClose(ANY, doing);
                return true;
            }
        }
    }

    /** The payload the listener's decoder makes of a compressed one, or null if it refuses it. */
    private static byte[] unpacked(byte[] packed) {
        if (packed.length == 0) {
            // an empty compressed payload: a protocol error (anEmptyCompressedPayloadIsCountedAsAProtocolError)
            return null;
        }
        long size = com.github.luben.zstd.Zstd.getFrameContentSize(packed);
        if (size < 0 || size > FrameCodec.MAX_PAYLOAD) {
            return null;
        }
        byte[] plain = new byte[(int) size];
        try {
            if (com.github.luben.zstd.Zstd.decompress(plain, packed) != size) {
                return null;
            }
        } catch (RuntimeException e) {
            return null;
        }
        return plain;
    }

    /** Sends a framed payload whose fate the session's judge predicts from {@code plain} (null: refused by the decoder). */
    private boolean judged(FuzzWire.Conn c, Session s, MessageType type, int flags, byte[] wire, byte[] plain)
            throws IOException {
        Outcome o = plain == null ? Outcome.INVALID : s.judge(type, plain);
        send(c, FuzzWire.frame(type.code(), flags, wire));
        switch (o) {
            case VALID -> {
                return false;
            }
            case INVALID -> {
                c.awaitClose(ANY, doing + " (its decoder or the listener's checks refuse it)");
                return true;
            }
            default -> {
                c.halfClose();
                c.awaitClose(ANY, doing);
                return true;
            }
        }
    }

    /** A message type outside {@code allowed} (never RECORD_STREAM's header-only checksum: covered by damage). */
    private MessageType otherThan(Set<MessageType> allowed) {
        List<MessageType> others = new ArrayList<>();
        for (MessageType t : MessageType.values()) {
            if (!allowed.contains(t)) {
                others.add(t);
            }
        }
        return others.get(r.nextInt(others.size()));
    }

    /** A well-formed payload of {@code type}, or random bytes for the types only a primary sends. */
    private byte[] someMessage(MessageType t) {
        return switch (t) {
            case HELLO -> FuzzWire.payload(b -> Messages.encode(validHello(randomMode()), b));
            case ACK -> FuzzWire.payload(b -> Messages.encode(new Messages.Ack(1, 0), b));
            case PING -> FuzzWire.payload(b -> Messages.encode(new Messages.Ping(r.nextLong()), b));
            case REJECT -> FuzzWire.payload(b -> Messages.encode(new Messages.Reject(ErrorCode.PROTOCOL, "fuzz"), b));
            case STATE -> FuzzWire.payload(b -> Messages.encode(new Messages.State(node(), Messages.Role.SECONDARY, 0,
                    List.of()), b));
            case HANDOVER -> FuzzWire.payload(b -> Messages.encode(new Messages.Handover(Messages.HandoverKind.REQUEST, 0,
                    ""), b));
            case LINKS -> FuzzWire.payload(b -> Messages.encodeLinks(List.of(new Link("x-" + node(), "v", 1, node(),
                    false)), b));
            default -> {
                byte[] b = new byte[r.nextInt(64)];
                r.nextBytes(b);
                yield b;
            }
        };
    }

    // ---------------------------------------------------------------- STREAM

    /** A log stream: ACKs and PINGs; the member position the listener keeps shows every ACK was taken. */
    private final class Stream extends Session {
        private Messages.Ack last;

        Stream(String node, boolean compressed) {
            super(node, compressed);
        }

        @Override
        Set<MessageType> accepted() {
            return EnumSet.of(MessageType.ACK, MessageType.PING);
        }

        @Override
        Set<MessageType> unasked() {
            return EnumSet.of(MessageType.RECORD_STREAM, MessageType.RECORDS, MessageType.PING);
        }

        @Override
        Msg valid() {
            if (r.nextInt(4) == 0) {
                return new Msg(Kind.PING, MessageType.PING, FuzzWire.payload(b -> Messages.encode(
                        new Messages.Ping(r.nextLong()), b)));
            }
            long durable = target.log().durableLsn();
            long received = r.nextInt(3) == 0 ? durable : (r.nextLong() & Long.MAX_VALUE) % (durable + 1);
            long replayed = r.nextInt(3) == 0 ? received : (r.nextLong() & Long.MAX_VALUE) % (received + 1);
            Messages.Ack a = new Messages.Ack(received, replayed);
            return new Msg(Kind.ACK, MessageType.ACK, FuzzWire.payload(b -> Messages.encode(a, b)));
        }

        @Override
        Outcome judge(MessageType type, byte[] payload) {
            try {
                if (type == MessageType.PING) {
                    Messages.decodePing(Unpooled.wrappedBuffer(payload));
                    return Outcome.VALID;
                }
                Messages.Ack a = Messages.decodeAck(Unpooled.wrappedBuffer(payload));
                long durable = target.log().durableLsn();
                if (a.receivedLsn() <= durable) {
                    last = a;
                    return Outcome.VALID;
                }
                return Outcome.UNKNOWN; // past the end now; the log may grow past it before the listener looks
            } catch (ProtocolException e) {
                return Outcome.INVALID;
            }
        }

        @Override
        void probe(FuzzWire.Conn c) {
            Messages.Ack a = last;
            if (a == null) {
                return;
            }
            long deadline = System.nanoTime() + FuzzWire.READ_TIMEOUT_MILLIS * 1_000_000L;
            while (true) {
                MemberPosition p = target.shipper().members().get(node);
                if (p != null && p.receivedLsn() == a.receivedLsn() && p.replayedLsn() == a.replayedLsn()) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the listener did not take ACK " + a + " of " + node + " within "
                            + FuzzWire.READ_TIMEOUT_MILLIS + " ms: its position is " + p);
                }
                LockSupport.parkNanos(20_000);
            }
        }
    }

    // ---------------------------------------------------------------- SYNC and VERIFY

    /** A full sync or an online verify: chunk questions, each answered by SYNC_DATA about that chunk, in order. */
    private final class Sync extends Session {
        private final boolean verify;
        private final ArrayDeque<Messages.SyncDigest> owed = new ArrayDeque<>();

        Sync(String node, boolean compressed, boolean verify) {
            super(node, compressed);
            this.verify = verify;
        }

        @Override
        Set<MessageType> accepted() {
            return EnumSet.of(MessageType.SYNC_DIGESTS, MessageType.PING);
        }

        @Override
        Set<MessageType> unasked() {
            return EnumSet.of(MessageType.PING);
        }

        @Override
        boolean owes() {
            return owed.size() >= 8;
        }

        @Override
        Msg valid() {
            if (r.nextInt(8) == 0) {
                return new Msg(Kind.PING, MessageType.PING, FuzzWire.payload(b -> Messages.encode(
                        new Messages.Ping(r.nextLong()), b)));
            }
            long size = target.deviceSize();
            long offset = 512L * r.nextInt((int) (size / 512));
            int length = r.nextInt(100) == 0 ? 512 * (1 + r.nextInt(Messages.MAX_CHUNK / 512))
                    : 512 * (1 + r.nextInt(128));
            length = (int) Math.min(length, size - offset);
            int block = verify ? ShippingHandler.VERIFY_BLOCK : 512 << r.nextInt(r.nextInt(10) == 0 ? 14 : 5);
            BlockDigest algorithm = BlockDigest.values()[r.nextInt(BlockDigest.values().length)];
            int n = Messages.blocks(length, block);
            byte[] digests = new byte[n * algorithm.length()];
            if (r.nextInt(4) == 0) {
                for (int i = 0; i < n; i++) { // what an unwritten (zero) chunk holds: mostly "the same"
                    algorithm.digest(ByteBuffer.allocate(Messages.blockLength(length, block, i)), digests,
                            i * algorithm.length());
                }
            } else {
                r.nextBytes(digests);
            }
            Messages.SyncDigest d = new Messages.SyncDigest(offset, length, block, algorithm, digests);
            return new Msg(Kind.SYNC_DIGESTS, MessageType.SYNC_DIGESTS, FuzzWire.payload(b -> Messages.encode(d, b)));
        }

        @Override
        Outcome judge(MessageType type, byte[] payload) {
            try {
                if (type == MessageType.PING) {
                    Messages.decodePing(Unpooled.wrappedBuffer(payload));
                    return Outcome.VALID;
                }
                Messages.SyncDigest d = Messages.decodeSyncDigest(Unpooled.wrappedBuffer(payload));
                long size = target.deviceSize();
                if (d.offset() % 512 != 0 || d.offset() >= size || d.length() > size - d.offset()
                        || verify && d.block() != ShippingHandler.VERIFY_BLOCK) {
                    return Outcome.INVALID;
                }
                owed.add(d);
                return Outcome.VALID;
            } catch (ProtocolException e) {
                return Outcome.INVALID;
            }
        }

        @Override
        void probe(FuzzWire.Conn c) throws IOException {
            while (!owed.isEmpty()) {
                Messages.SyncDigest asked = owed.poll();
                FuzzWire.In f = c.await(MessageType.SYNC_DATA, unasked(), "SYNC_DIGESTS of " + asked.offset() + "+"
                        + asked.length());
                Messages.SyncData d = Messages.decodeSyncData(Unpooled.wrappedBuffer(f.payload()));
                if (d.offset() != asked.offset() || d.length() != asked.length() || d.block() != asked.block()) {
                    throw new AssertionError("SYNC_DATA about " + d.offset() + "+" + d.length() + "/" + d.block()
                            + " answers SYNC_DIGESTS about " + asked.offset() + "+" + asked.length() + "/" + asked.block());
                }
            }
        }
    }

    // ---------------------------------------------------------------- LINKS (mesh)

    /** A mesh session: STATE, LINKS and HANDOVER steps; a HANDOVER request is answered (refused) every time. */
    private final class Mesh extends Session {
        private int answersOwed;

        Mesh(String node) {
            super(node, false);
            counts.meshNodes.add(node);
        }

        @Override
        Set<MessageType> accepted() {
            return EnumSet.of(MessageType.STATE, MessageType.LINKS, MessageType.HANDOVER, MessageType.PING);
        }

        @Override
        Set<MessageType> unasked() {
            return EnumSet.of(MessageType.STATE, MessageType.LINKS, MessageType.PING);
        }

        @Override
        Msg valid() {
            switch (r.nextInt(6)) {
                case 0 -> {
                    Messages.State st = new Messages.State(node, Messages.Role.values()[r.nextInt(3)],
                            r.nextLong() & Long.MAX_VALUE, List.of());
                    return new Msg(Kind.STATE, MessageType.STATE, FuzzWire.payload(b -> Messages.encode(st, b)));
                }
                case 1, 2, 3 -> {
                    List<Link> links = new ArrayList<>();
                    for (int i = 0, n = 1 + r.nextInt(8); i < n; i++) {
                        links.add(link());
                    }
                    return new Msg(Kind.LINKS, MessageType.LINKS, FuzzWire.payload(b -> Messages.encodeLinks(links, b)));
                }
                case 4 -> {
                    Messages.HandoverKind kind = r.nextBoolean() ? Messages.HandoverKind.READY : Messages.HandoverKind.REFUSED;
                    Messages.Handover h = new Messages.Handover(kind, r.nextLong() & Long.MAX_VALUE, "fuzz " + r.nextInt());
                    return new Msg(Kind.HANDOVER, MessageType.HANDOVER, FuzzWire.payload(b -> Messages.encode(h, b)));
                }
                default -> {
                    return new Msg(Kind.PING, MessageType.PING, FuzzWire.payload(b -> Messages.encode(
                            new Messages.Ping(r.nextLong()), b)));
                }
            }
        }

        /** Mostly links this node does not own (refused, the session goes on); one in ten its own (stored). */
        private Link link() {
            boolean own = r.nextInt(10) == 0;
            String name = own ? "fz" + r.nextInt(4) + "-" + node : switch (r.nextInt(4)) {
                case 0 -> "primary-" + target.primaryNode();
                case 1 -> "member-" + node() + "-" + target.primaryNode();
                case 2 -> "fz" + r.nextInt(4) + "-" + node + "x";
                default -> "replay-s";
            };
            String writer = own || r.nextBoolean() ? node : node();
            boolean deleted = r.nextInt(8) == 0;
            return new Link(name, deleted ? null : "v" + Long.toString(r.nextLong() & Long.MAX_VALUE, 36),
                    1 + r.nextInt(1_000_000), writer, deleted);
        }

        @Override
        Outcome judge(MessageType type, byte[] payload) {
            try {
                switch (type) {
                    case PING -> Messages.decodePing(Unpooled.wrappedBuffer(payload));
                    case STATE -> {
                        if (!Messages.decodeState(Unpooled.wrappedBuffer(payload)).node().equals(node)) {
                            return Outcome.INVALID; // a peer may not change its name
                        }
                    }
                    case HANDOVER -> {
                        if (Messages.decodeHandover(Unpooled.wrappedBuffer(payload)).kind()
                                == Messages.HandoverKind.REQUEST) {
                            answersOwed++;
                        }
                    }
                    case LINKS -> {
                        for (Link l : Messages.decodeLinks(Unpooled.wrappedBuffer(payload))) {
                            if (!LinkExchange.owns(node, l.name()) || !node.equals(l.node())) {
                                continue; // refused and counted; the session goes on
                            }
                            if (!NAME.matcher(l.name()).matches() || !NAME.matcher(l.node()).matches()
                                    || !l.deleted() && !storableValue(l.value()) || l.lamport() > MAX_LAMPORT) {
                                return Outcome.INVALID; // the links before it are stored
                            }
                            counts.storable.add(l.name());
                        }
                    }
                    default -> throw new IllegalStateException(type.name());
                }
                return Outcome.VALID;
            } catch (ProtocolException e) {
                return Outcome.INVALID;
            }
        }

        private static boolean storableValue(String v) {
            return !v.isEmpty() && v.length() <= 1024 && v.indexOf('\0') < 0 && v.indexOf('/') < 0
                    && !v.equals("(deleted)");
        }

        @Override
        void probe(FuzzWire.Conn c) throws IOException {
            Messages.Handover ask = new Messages.Handover(Messages.HandoverKind.REQUEST, 0, "");
            c.send(FuzzWire.frame(MessageType.HANDOVER, FuzzWire.payload(b -> Messages.encode(ask, b))));
            answersOwed++;
            while (answersOwed > 0) {
                FuzzWire.In f = c.await(MessageType.HANDOVER, unasked(), "a HANDOVER request");
                Messages.Handover h = Messages.decodeHandover(Unpooled.wrappedBuffer(f.payload()));
                if (h.kind() != Messages.HandoverKind.REFUSED) {
                    throw new AssertionError("a HANDOVER request was answered " + h + "; this member refuses them all");
                }
                answersOwed--;
            }
        }
    }
}
