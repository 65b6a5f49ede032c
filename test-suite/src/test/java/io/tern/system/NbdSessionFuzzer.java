package io.tern.system;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Many seeded NBD cases per connection: mutated handshake options (each answered with its
 * replies and a final ACK or error, the connection kept), then, after GO, pipelined requests
 * with random types, flags, offsets and lengths (each answered exactly once, under its handle,
 * with success or a known errno, a successful READ with exactly its bytes), and a hostile end:
 * a bad magic, an option or write past its bound, an ABORT or a DISC. Every read has a deadline.
 *
 * <p>Thread contract: one thread per instance.
 */
final class NbdSessionFuzzer {
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    private static final int REP_ACK = 1;
    private static final int REP_SERVER = 2;
    private static final int REP_INFO = 3;
    /** Errno values Tern's NBD server may answer with ({@link io.tern.block.BlockError}). */
    private static final Set<Integer> ERRNOS = Set.of(0, 1, 5, 12, 22, 28, 75, 95, 108);
    /** Above the largest READ or WRITE any Tern server accepts (32 MiB): refused, never held. */
    private static final long PAST_MAX = 33L << 20;

    /** Counts of one run. */
    static final class Counts {
        long options;
        long requests;
        long hostileEnds;
        long connections;
        long errorReplies;
    }

    private final Random r;
    private final InetSocketAddress address;
    private final String export;
    private final long size;
    private final Counts counts = new Counts();

    NbdSessionFuzzer(Random r, InetSocketAddress address, String export, long size) {
        this.r = r;
        this.address = address;
        this.export = export;
        this.size = size;
    }

    Counts counts() {
        return counts;
    }

    long cases() {
        return counts.options + counts.requests + counts.hostileEnds;
    }

    /** One connection: options, maybe transmission, a hostile or polite end; checks every answer. */
    void session() throws IOException {
        counts.connections++;
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.setSoLinger(true, 0);
            s.connect(address, 10_000);
            s.setSoTimeout(10_000);
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            if (in.readLong() != 0x4e42444d41474943L || in.readLong() != IHAVEOPT) {
                throw new AssertionError("bad NBD greeting");
            }
            in.readUnsignedShort();
            out.writeInt(3); // fixed newstyle, no zeroes
            boolean structured = false;
            for (int i = 0, n = r.nextInt(12); i < n; i++) {
                int option = randomOption();
                byte[] data = optionData(option);
                out.write(option(option, data));
                counts.options++;
                boolean acked = optionReplies(in, option, "option " + option + " with " + data.length + " bytes");
                structured |= option == 8 && acked;
            }
            if (r.nextInt(6) == 0) {
                hostileHandshake(s, in, out);
                return;
            }
            if (!structured && r.nextBoolean()) {
                out.write(option(8, new byte[0]));
                counts.options++;
                structured = optionReplies(in, 8, "STRUCTURED_REPLY");
            }
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            ByteArrayOutputStream go = new ByteArrayOutputStream();
            DataOutputStream g = new DataOutputStream(go);
            g.writeInt(name.length);
            g.write(name);
            g.writeShort(1);
            g.writeShort(3); // block size
            out.write(option(7, go.toByteArray()));
            counts.options++;
            if (!optionReplies(in, 7, "GO " + export)) {
                throw new AssertionError("GO for export " + export + " was refused");
            }
            transmission(s, in, out, structured);
        }
    }

    private int randomOption() {
        return switch (r.nextInt(8)) {
            case 0 -> 3; // LIST
            case 1 -> 5; // STARTTLS: refused by policy
            case 2, 3 -> 6; // INFO
            case 4 -> 8; // STRUCTURED_REPLY
            default -> {
                int o = r.nextInt(4) == 0 ? r.nextInt() : r.nextInt(64);
                yield o == 1 || o == 2 || o == 7 ? 9 : o; // EXPORT_NAME, ABORT and GO end the handshake
            }
        };
    }

    private byte[] optionData(int option) throws IOException {
        if (option == 6 || r.nextInt(3) == 0) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(b);
            byte[] name = (r.nextBoolean() ? export : "x" + r.nextInt(100)).getBytes(StandardCharsets.UTF_8);
            o.writeInt(r.nextInt(6) == 0 ? r.nextInt() : name.length);
            o.write(name);
            int requests = r.nextInt(5);
            o.writeShort(r.nextInt(6) == 0 ? r.nextInt(1 << 16) : requests);
            for (int i = 0; i < requests; i++) {
                o.writeShort(r.nextInt(6));
            }
            byte[] data = b.toByteArray();
            return r.nextInt(4) == 0 ? mutate(data) : data;
        }
        byte[] data = new byte[r.nextInt(3) == 0 ? r.nextInt(64) : 0];
        r.nextBytes(data);
        return data;
    }

    private static byte[] option(int option, byte[] data) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream o = new DataOutputStream(b);
        o.writeLong(IHAVEOPT);
        o.writeInt(option);
        o.writeInt(data.length);
        o.write(data);
        return b.toByteArray();
    }

    /** Reads an option's replies up to the final one: true for ACK, false for an error. */
    private boolean optionReplies(DataInputStream in, int option, String what) throws IOException {
        for (int replies = 0; replies < 100; replies++) {
            long magic;
            try {
                magic = in.readLong();
            } catch (SocketTimeoutException e) {
                throw new AssertionError("no reply within 10 s to " + what, e);
            }
            int echoed = in.readInt();
            int type = in.readInt();
            long length = in.readInt() & 0xFFFFFFFFL;
            if (magic != OPTION_REPLY_MAGIC || echoed != option || length > 1 << 16) {
                throw new AssertionError("bad option reply to " + what + ": magic " + Long.toHexString(magic) + ", option "
                        + echoed + ", type " + type + ", length " + length);
            }
            in.readNBytes((int) length);
            if (type == REP_ACK) {
                return true;
            }
            if (type < 0) {
                counts.errorReplies++;
                return false;
            }
            if (type != REP_SERVER && type != REP_INFO) {
                throw new AssertionError("unknown option reply type " + type + " to " + what);
            }
        }
        throw new AssertionError("over 100 replies to " + what);
    }

    /** Ends a handshake badly: the server must close (after an ACK for ABORT). */
    private void hostileHandshake(Socket s, DataInputStream in, DataOutputStream out) throws IOException {
        counts.hostileEnds++;
        switch (r.nextInt(4)) {
            case 0 -> out.write(mutateMagic(option(6, new byte[0])));
            case 1 -> {
                out.writeLong(IHAVEOPT);
                out.writeInt(r.nextInt());
                out.writeInt(8193 + r.nextInt(1 << 30)); // longer than any option may be
            }
            case 2 -> out.write(option(1, ("no-such-" + r.nextInt(1000)).getBytes(StandardCharsets.UTF_8)));
            default -> out.write(option(2, new byte[0])); // ABORT: an ACK, then the close
        }
        awaitClose(s, in, "a hostile end of the handshake");
    }

    private byte[] mutateMagic(byte[] b) {
        b[r.nextInt(8)] ^= (byte) (1 + r.nextInt(255));
        return b;
    }

    private void transmission(Socket s, DataInputStream in, DataOutputStream out, boolean structured) throws IOException {
        int rounds = 1 + r.nextInt(8);
        long handle = r.nextLong();
        for (int round = 0; round < rounds; round++) {
            Map<Long, long[]> pending = new HashMap<>(); // handle -> {type, length}
            ByteArrayOutputStream batch = new ByteArrayOutputStream();
            DataOutputStream b = new DataOutputStream(batch);
            for (int i = 0, n = 1 + r.nextInt(24); i < n; i++) {
                handle++;
                int type = switch (r.nextInt(10)) {
                    case 0, 1, 2 -> 0;
                    case 3, 4, 5 -> 1;
                    case 6 -> 3;
                    case 7 -> 4;
                    case 8 -> 6;
                    default -> 5 + r.nextInt(r.nextBoolean() ? 16 : (1 << 16) - 5); // unknown commands, never DISC
                };
                long offset = switch (r.nextInt(6)) {
                    case 0 -> r.nextLong();
                    case 1 -> size - r.nextInt(8192);
                    case 2 -> r.nextInt((int) size);
                    default -> 512L * r.nextInt((int) (size / 512));
                };
                long length = switch (r.nextInt(8)) {
                    case 0 -> 0;
                    case 1 -> type == 1 ? r.nextInt(70_000) : PAST_MAX + (r.nextLong() & 0x7FFFFFFFL) % (0xFFFFFFFFL - PAST_MAX);
                    case 2 -> r.nextInt(70_000);
                    default -> 512L * (1 + r.nextInt(128));
                };
                b.writeInt(REQUEST_MAGIC);
                b.writeShort(r.nextInt(5) == 0 ? r.nextInt(1 << 16) : r.nextInt(2));
                b.writeShort(type);
                b.writeLong(handle);
                b.writeLong(offset);
                b.writeInt((int) length);
                if (type == 1) {
                    byte[] data = new byte[(int) length];
                    r.nextBytes(data);
                    b.write(data);
                }
                pending.put(handle, new long[] {type, length});
                counts.requests++;
            }
            out.write(batch.toByteArray());
            out.flush();
            while (!pending.isEmpty()) {
                reply(in, pending, structured);
            }
        }
        counts.hostileEnds++;
        switch (r.nextInt(4)) {
            case 0 -> { // a bad magic
                out.writeInt(REQUEST_MAGIC ^ (1 << r.nextInt(32)));
                out.write(new byte[24]);
                awaitClose(s, in, "a request with a bad magic");
            }
            case 1 -> { // a WRITE past the bound: refused, its data skipped, the connection kept
                long length = PAST_MAX + r.nextInt(1 << 16);
                out.writeInt(REQUEST_MAGIC);
                out.writeShort(0);
                out.writeShort(1);
                out.writeLong(++handle);
                out.writeLong(0);
                out.writeInt((int) length);
                out.write(new byte[r.nextInt(1 << 16)]);
                s.shutdownOutput();
                awaitClose(s, in, "an oversized WRITE");
            }
            case 2 -> { // DISC: the server closes
                out.writeInt(REQUEST_MAGIC);
                out.writeShort(0);
                out.writeShort(2);
                out.writeLong(++handle);
                out.writeLong(0);
                out.writeInt(0);
                awaitClose(s, in, "DISC");
            }
            default -> {
                s.shutdownOutput();
                awaitClose(s, in, "a half-close");
            }
        }
    }

    /** Reads one reply and checks it against the request of its handle. */
    private void reply(DataInputStream in, Map<Long, long[]> pending, boolean structured) throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (SocketTimeoutException e) {
            throw new AssertionError(pending.size() + " requests unanswered after 10 s: " + pending.keySet(), e);
        }
        if (magic == SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long handle = in.readLong();
            long[] req = take(pending, handle);
            checkErrno(error, req);
            if (error == 0 && req[0] == 0) {
                if (structured && req[1] > 0) {
                    throw new AssertionError("a READ of " + req[1] + " bytes got a simple reply on a structured session");
                }
                in.readNBytes((int) req[1]);
            }
            if (error != 0) {
                counts.errorReplies++;
            }
            return;
        }
        if (magic != STRUCTURED_REPLY_MAGIC || !structured) {
            throw new AssertionError("bad reply magic 0x" + Integer.toHexString(magic) + " (structured " + structured + ")");
        }
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long handle = in.readLong();
        long length = in.readInt() & 0xFFFFFFFFL;
        long[] req = take(pending, handle);
        if ((flags & 1) == 0 || length > (32 << 20) + 8) {
            throw new AssertionError("structured reply type " + type + ", flags " + flags + ", length " + length);
        }
        switch (type) {
            case 0 -> {
                if (length != 0) {
                    throw new AssertionError("a NONE chunk of " + length + " bytes");
                }
            }
            case 1 -> {
                long offset = in.readLong();
                if (req[0] != 0 || length - 8 != req[1]) {
                    throw new AssertionError("OFFSET_DATA of " + (length - 8) + " bytes at " + offset + " for request " + req[0]
                            + " of " + req[1] + " bytes");
                }
                in.readNBytes((int) (length - 8));
            }
            case 0x8001 -> {
                int errno = in.readInt();
                int messageLength = in.readUnsignedShort();
                if (errno == 0 || messageLength + 6 != length) {
                    throw new AssertionError("ERROR chunk with errno " + errno + ", message " + messageLength + " of " + length);
                }
                checkErrno(errno, req);
                in.readNBytes(messageLength);
                counts.errorReplies++;
            }
            default -> throw new AssertionError("unknown structured reply type " + type);
        }
    }

    private static long[] take(Map<Long, long[]> pending, long handle) {
        long[] req = pending.remove(handle);
        if (req == null) {
            throw new AssertionError("a reply for handle " + handle + ", which has no request pending");
        }
        return req;
    }

    private static void checkErrno(int error, long[] req) {
        if (!ERRNOS.contains(error)) {
            throw new AssertionError("errno " + error + " for request type " + req[0] + " of " + req[1] + " bytes");
        }
        if (error == 0 && (req[0] == 0 || req[0] == 1) && req[1] >= PAST_MAX) {
            throw new AssertionError("a request of type " + req[0] + " and " + req[1] + " bytes, past any bound, succeeded");
        }
    }

    /** Drains until the server closes, within the deadline. */
    private static void awaitClose(Socket s, InputStream in, String what) throws IOException {
        byte[] sink = new byte[65536];
        long deadline = System.nanoTime() + 10_000_000_000L;
        try {
            while (in.read(sink) >= 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the server did not close within 10 s after " + what);
                }
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server neither answered nor closed within 10 s after " + what, e);
        } catch (SocketException | EOFException e) {
            // reset: a way to close
        }
    }

    private byte[] mutate(byte[] in) {
        byte[] b = in.clone();
        if (b.length > 0) {
            b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
        }
        return r.nextBoolean() ? java.util.Arrays.copyOf(b, r.nextInt(b.length + 1)) : b;
    }
}
