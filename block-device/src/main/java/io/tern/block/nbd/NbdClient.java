package io.tern.block.nbd;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small NBD client: fixed newstyle, NBD_OPT_GO, simple replies, many requests in flight (a
 * reader thread matches replies to handles). Used by {@code tern demo} and the system tests.
 * Failed requests complete with {@link NbdError}; a lost connection fails every pending request
 * with the I/O error. Thread-safe: requests may be sent from any thread.
 */
public final class NbdClient implements AutoCloseable {
    /** A request the server answered with an error. */
    public static final class NbdError extends IOException {
        private final int errno;

        NbdError(int errno) {
            super("NBD error " + errno);
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }

    private record Pending(CompletableFuture<byte[]> future, int readLength) {
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final long size;
    private final int flags;
    private final AtomicLong handles = new AtomicLong(1);
    private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Thread reader;
    private volatile IOException broken;

    private NbdClient(Socket socket, DataInputStream in, DataOutputStream out, long size, int flags) {
        this.socket = socket;
        this.in = in;
        this.out = out;
        this.size = size;
        this.flags = flags;
        this.reader = new Thread(this::readReplies, "nbd-client-reader");
        reader.setDaemon(true);
        reader.start();
    }

    public static NbdClient connect(InetSocketAddress address, String export) throws IOException {
        Socket s = new Socket();
        s.connect(address, 5000);
        s.setTcpNoDelay(true);
        DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
        try {
            if (in.readLong() != 0x4e42444d41474943L || in.readLong() != 0x49484156454F5054L) {
                throw new IOException("not an NBD fixed newstyle server");
            }
            in.readUnsignedShort();
            out.writeInt(3); // FIXED_NEWSTYLE | NO_ZEROES
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(7); // GO
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            long size = -1;
            int flags = 0;
            while (true) {
                if (in.readLong() != 0x3e889045565a9L) {
                    throw new IOException("bad option reply magic");
                }
                in.readInt();
                int type = in.readInt();
                int length = in.readInt();
                byte[] data = in.readNBytes(length);
                if (type == 1) {
                    break;
                }
                if (type < 0) {
                    throw new IOException("export '" + export + "' refused: " + new String(data, StandardCharsets.UTF_8));
                }
                if (type == 3 && length >= 12 && data[0] == 0 && data[1] == 0) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data);
                    b.getShort();
                    size = b.getLong();
                    flags = b.getShort() & 0xFFFF;
                }
            }
            return new NbdClient(s, in, out, size, flags);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public long size() {
        return size;
    }

    public int transmissionFlags() {
        return flags;
    }

    public CompletableFuture<Void> write(long offset, byte[] data, boolean fua) {
        return send(1, fua ? 1 : 0, offset, data.length, data, 0).thenApply(b -> null);
    }

    public CompletableFuture<byte[]> read(long offset, int length) {
        return send(0, 0, offset, length, null, length);
    }

    public CompletableFuture<Void> flush() {
        return send(3, 0, 0, 0, null, 0).thenApply(b -> null);
    }

    public CompletableFuture<Void> writeZeroes(long offset, int length) {
        return send(6, 0, offset, length, null, 0).thenApply(b -> null);
    }

    private CompletableFuture<byte[]> send(int type, int cmdFlags, long offset, int length, byte[] data, int readLength) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        if (broken != null) {
            f.completeExceptionally(broken);
            return f;
        }
        long handle = handles.getAndIncrement();
        pending.put(handle, new Pending(f, readLength));
        try {
            synchronized (out) {
                out.writeInt(0x25609513);
                out.writeShort(cmdFlags);
                out.writeShort(type);
                out.writeLong(handle);
                out.writeLong(offset);
                out.writeInt(length);
                if (data != null) {
                    out.write(data);
                }
                out.flush();
            }
        } catch (IOException e) {
            pending.remove(handle);
            f.completeExceptionally(e);
        }
        return f;
    }

    private void readReplies() {
        try {
            while (true) {
                int magic = in.readInt();
                if (magic != 0x67446698) {
                    throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
                }
                int error = in.readInt();
                long handle = in.readLong();
                Pending p = pending.remove(handle);
                if (p == null) {
                    throw new IOException("reply for unknown handle " + handle);
                }
                if (error != 0) {
                    p.future.completeExceptionally(new NbdError(error));
                } else {
                    byte[] data = p.readLength > 0 ? new byte[p.readLength] : null;
                    if (data != null) {
                        in.readFully(data);
                    }
                    p.future.complete(data);
                }
            }
        } catch (IOException e) {
            broken = e instanceof EOFException ? new IOException("connection closed by the server", e) : e;
            pending.values().forEach(p -> p.future.completeExceptionally(broken));
            pending.clear();
        }
    }

    /** Sends DISC and closes. */
    @Override
    public void close() {
        try {
            synchronized (out) {
                out.writeInt(0x25609513);
                out.writeShort(0);
                out.writeShort(2);
                out.writeLong(0);
                out.writeLong(0);
                out.writeInt(0);
                out.flush();
            }
        } catch (IOException e) {
            // already gone
        }
        try {
            socket.close();
        } catch (IOException e) {
            // closing
        }
    }
}
