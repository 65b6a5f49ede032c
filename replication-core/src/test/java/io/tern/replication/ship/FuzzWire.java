package io.tern.replication.ship;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tern.replication.protocol.FrameCodec;
import io.tern.replication.protocol.MessageType;

/**
 * The fuzzer's side of the replication wire: frames built byte by byte (any type code, flags,
 * length and checksum, right or wrong), and a blocking connection that reads the listener's
 * frames back and checks each of them as strictly as {@link io.tern.replication.protocol.FrameDecoder}
 * would. Every read has a deadline: a listener that neither answers nor closes fails the case.
 */
final class FuzzWire {
    /** How long one case may wait for an answer or a close. */
    static final int READ_TIMEOUT_MILLIS = 10_000;

    private FuzzWire() {
    }

    /** A message payload written by {@code body} (e.g. one of the {@code Messages.encode} methods). */
    static byte[] payload(Consumer<ByteBuf> body) {
        ByteBuf b = Unpooled.buffer();
        body.accept(b);
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }

    static byte[] frame(MessageType type, byte[] payload) {
        return frame(type.code(), 0, payload);
    }

    /** A frame with a correct checksum for whatever type code, flags and payload it is given. */
    static byte[] frame(int typeCode, int flags, byte[] payload) {
        byte[] f = new byte[FrameCodec.HEADER_LENGTH + payload.length];
        putInt(f, 0, FrameCodec.MAGIC);
        f[4] = (byte) FrameCodec.VERSION;
        f[5] = (byte) typeCode;
        f[6] = (byte) (flags >>> 8);
        f[7] = (byte) flags;
        putInt(f, 8, payload.length);
        System.arraycopy(payload, 0, f, FrameCodec.HEADER_LENGTH, payload.length);
        CRC32C crc = new CRC32C();
        crc.update(f, 0, 12);
        if (typeCode != MessageType.RECORD_STREAM.code()) {
            crc.update(payload, 0, payload.length);
        }
        putInt(f, 12, (int) crc.getValue());
        return f;
    }

    static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    static int getInt(byte[] b, int at) {
        return (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | (b[at + 3] & 0xFF);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** The first bytes of {@code b} in hex, for a failure message that lets a reader rebuild the case. */
    static String hex(byte[] b) {
        int n = Math.min(b.length, 256);
        return HexFormat.of().formatHex(b, 0, n) + (n < b.length ? "... (" + b.length + " bytes)" : "");
    }

    /** A frame the listener sent. {@code payload} is {@code null} for RECORD_STREAM, whose bytes are only drained. */
    record In(MessageType type, int flags, byte[] payload) {
    }

    /** One fuzzing connection to the listener. */
    static final class Conn implements AutoCloseable {
        private final Socket socket;
        private final OutputStream out;
        private final InputStream in;
        private final byte[] header = new byte[FrameCodec.HEADER_LENGTH];
        private final byte[] sink = new byte[64 << 10];
        private boolean outputShut;

        Conn(InetSocketAddress address) throws IOException {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            // The listener closes first; an abortive close here then leaves no TIME_WAIT behind on this side.
            socket.setSoLinger(true, 0);
            socket.connect(address, READ_TIMEOUT_MILLIS);
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            out = socket.getOutputStream();
            in = socket.getInputStream();
        }

        /** Sends bytes; false if the listener had closed the connection already (a reset). */
        boolean send(byte[] bytes) {
            try {
                out.write(bytes);
                out.flush();
                return true;
            } catch (IOException e) {
                return false;
            }
        }

        /** Says this side has nothing more to send (the listener closes on it). */
        void halfClose() {
            if (!outputShut) {
                outputShut = true;
                try {
                    socket.shutdownOutput();
                } catch (IOException e) {
                    // closed already: the same outcome
                }
            }
        }

        /**
         * The next frame, checked like the listener's own decoder checks them, or {@code null}
         * once the listener closed (a close in the middle of a frame counts: pending writes are
         * dropped by a close).
         *
         * @throws SocketTimeoutException if nothing came within the read timeout
         */
        In next() throws IOException {
            try {
                if (!readFully(header, 0, header.length)) {
                    return null;
                }
                int magic = getInt(header, 0);
                int version = header[4] & 0xFF;
                MessageType type = MessageType.of(header[5] & 0xFF);
                int flags = (header[6] & 0xFF) << 8 | (header[7] & 0xFF);
                long length = getInt(header, 8) & 0xFFFFFFFFL;
                if (magic != FrameCodec.MAGIC || version != FrameCodec.VERSION || type == null
                        || (flags & ~FrameCodec.FLAG_ZSTD) != 0 || length > FrameCodec.MAX_PAYLOAD) {
                    throw new AssertionError("the listener sent a malformed frame header " + hex(header));
                }
                CRC32C crc = new CRC32C();
                crc.update(header, 0, 12);
                if (type == MessageType.RECORD_STREAM) {
                    long left = length;
                    while (left > 0) {
                        int n = in.read(sink, 0, (int) Math.min(left, sink.length));
                        if (n < 0) {
                            return null;
                        }
                        left -= n;
                    }
                    check(crc, type);
                    return new In(type, flags, null);
                }
                byte[] payload = new byte[(int) length];
                if (!readFully(payload, 0, payload.length)) {
                    return null;
                }
                crc.update(payload, 0, payload.length);
                check(crc, type);
                if ((flags & FrameCodec.FLAG_ZSTD) != 0) {
                    payload = com.github.luben.zstd.Zstd.decompress(payload,
                            (int) com.github.luben.zstd.Zstd.getFrameContentSize(payload));
                }
                return new In(type, flags, payload);
            } catch (SocketTimeoutException e) {
                throw e;
            } catch (EOFException | SocketException e) {
                return null; // reset: the listener's way of closing right after a violation
            }
        }

        private void check(CRC32C crc, MessageType type) {
            if ((int) crc.getValue() != getInt(header, 12)) {
                throw new AssertionError("the listener sent a " + type + " frame that fails its checksum");
            }
        }

        private boolean readFully(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                int n = in.read(b, off, len);
                if (n < 0) {
                    return false;
                }
                off += n;
                len -= n;
            }
            return true;
        }

        /**
         * Reads until the frame {@code wanted} arrives, passing over the listener's unasked-for
         * frames of the {@code skip} types; fails on anything else, on a close, or after the timeout.
         */
        In await(MessageType wanted, Set<MessageType> skip, String what) throws IOException {
            return await(java.util.EnumSet.of(wanted), skip, what);
        }

        /** Like {@link #await(MessageType, Set, String)}, for the first frame of any of the {@code wanted} types. */
        In await(Set<MessageType> wanted, Set<MessageType> skip, String what) throws IOException {
            long deadline = System.nanoTime() + READ_TIMEOUT_MILLIS * 1_000_000L;
            while (true) {
                In f;
                try {
                    f = next();
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("no " + wanted + " within " + READ_TIMEOUT_MILLIS + " ms after " + what);
                }
                if (f == null) {
                    throw new AssertionError("the listener closed the connection instead of sending " + wanted
                            + " after " + what);
                }
                if (wanted.contains(f.type())) {
                    return f;
                }
                if (!skip.contains(f.type())) {
                    throw new AssertionError("the listener sent " + f.type() + " while " + wanted + " was awaited after "
                            + what);
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no " + wanted + " within " + READ_TIMEOUT_MILLIS + " ms after " + what);
                }
            }
        }

        /**
         * Reads until the listener closes, which it must do within the timeout; every frame on
         * the way must be of an {@code allowed} type. Returns the frames' types seen, as a set.
         */
        java.util.EnumSet<MessageType> awaitClose(Set<MessageType> allowed, String what) throws IOException {
            java.util.EnumSet<MessageType> seen = java.util.EnumSet.noneOf(MessageType.class);
            long deadline = System.nanoTime() + READ_TIMEOUT_MILLIS * 1_000_000L;
            while (true) {
                In f;
                try {
                    f = next();
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("the listener neither answered nor closed within " + READ_TIMEOUT_MILLIS
                            + " ms after " + what);
                }
                if (f == null) {
                    return seen;
                }
                seen.add(f.type());
                if (!allowed.contains(f.type())) {
                    throw new AssertionError("the listener sent " + f.type() + " after " + what + "; only " + allowed
                            + " or a close may follow");
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the listener did not close within " + READ_TIMEOUT_MILLIS + " ms after "
                            + what);
                }
            }
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // nothing left to do
            }
        }
    }
}
