package io.tern.replication.ship;

import java.util.Arrays;
import java.util.Random;

import io.tern.replication.protocol.FrameCodec;

/** Seeded byte-level damage for the replication fuzzer: to payloads (then framed correctly) and to whole frames. */
final class FuzzMutator {
    private FuzzMutator() {
    }

    /**
     * One to four of: a flipped bit, a random byte, a cut, random bytes inserted, a range deleted,
     * a u16/u32/i64 field set to an edge value (0, max, negative), a range repeated. Never
     * returns its input unchanged.
     */
    static byte[] mutate(Random r, byte[] in) {
        byte[] b = in.clone();
        for (int i = 0, n = 1 + r.nextInt(4); i < n; i++) {
            int op = r.nextInt(7);
            if (b.length == 0) {
                op = 3;
            }
            switch (op) {
                case 0 -> b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                case 2 -> b = Arrays.copyOf(b, r.nextInt(b.length));
                case 3 -> {
                    int at = r.nextInt(b.length + 1);
                    byte[] extra = new byte[1 + r.nextInt(8)];
                    r.nextBytes(extra);
                    b = splice(b, at, at, extra);
                }
                case 4 -> {
                    int at = r.nextInt(b.length);
                    b = splice(b, at, Math.min(b.length, at + 1 + r.nextInt(16)), new byte[0]);
                }
                case 5 -> {
                    int width = new int[] {2, 4, 8}[r.nextInt(3)];
                    if (b.length >= width) {
                        int at = r.nextInt(b.length - width + 1);
                        int edge = r.nextInt(4);
                        for (int k = 0; k < width; k++) {
                            b[at + k] = switch (edge) {
                                case 0 -> 0;
                                case 1 -> (byte) 0xFF;
                                case 2 -> (byte) (k == 0 ? 0x80 : 0);
                                default -> (byte) (k == 0 ? 0x7F : 0xFF);
                            };
                        }
                    }
                }
                default -> {
                    int from = r.nextInt(b.length);
                    int to = Math.min(b.length, from + 1 + r.nextInt(64));
                    b = splice(b, to, to, Arrays.copyOfRange(b, from, to));
                }
            }
        }
        if (Arrays.equals(b, in)) {
            if (b.length == 0) {
                return new byte[] {(byte) r.nextInt(256)};
            }
            b[r.nextInt(b.length)] ^= 1;
        }
        return b;
    }

    private static byte[] splice(byte[] b, int from, int to, byte[] insert) {
        byte[] c = new byte[b.length - (to - from) + insert.length];
        System.arraycopy(b, 0, c, 0, from);
        System.arraycopy(insert, 0, c, from, insert.length);
        System.arraycopy(b, to, c, from + insert.length, b.length - to);
        return c;
    }

    /** A damaged frame, and whether the listener may be left waiting for bytes that never come (a longer length). */
    record Damaged(byte[] bytes, boolean mayWait, String how) {
    }

    /**
     * Damages one field of a correctly framed message: magic, version, type, flags, length,
     * checksum or a payload byte. Every such frame fails its checksum or an earlier check, so the
     * listener must close the connection; only a length raised within {@code maxPayload} makes it
     * wait for the rest first.
     */
    static Damaged damage(Random r, byte[] frame, int maxPayload) {
        byte[] f = frame.clone();
        int payload = f.length - FrameCodec.HEADER_LENGTH;
        int field = r.nextInt(payload > 0 ? 7 : 6);
        switch (field) {
            case 0 -> {
                f[r.nextInt(4)] ^= (byte) (1 + r.nextInt(255));
                return new Damaged(f, false, "magic");
            }
            case 1 -> {
                f[4] = (byte) (FrameCodec.VERSION + 1 + r.nextInt(254));
                return new Damaged(f, false, "version");
            }
            case 2 -> {
                f[5] ^= (byte) (1 + r.nextInt(255));
                return new Damaged(f, false, "type");
            }
            case 3 -> {
                int flags = 1 + r.nextInt(0xFFFF);
                f[6] = (byte) (flags >>> 8);
                f[7] = (byte) flags;
                return new Damaged(f, false, "flags " + flags);
            }
            case 4 -> {
                long length = switch (r.nextInt(3)) {
                    case 0 -> r.nextInt(Math.max(1, payload)); // shorter: the checksum fails at once
                    case 1 -> maxPayload + 1L + (r.nextLong() & 0x7FFFFFFFL) % (0xFFFFFFFFL - maxPayload); // past the bound
                    default -> payload + 1L + r.nextInt(1 << 16); // longer, within the bound
                };
                if (length == payload) {
                    length = payload + 1;
                }
                FuzzWire.putInt(f, 8, (int) length);
                return new Damaged(f, length > payload && length <= maxPayload, "length " + length);
            }
            case 5 -> {
                f[12 + r.nextInt(4)] ^= (byte) (1 + r.nextInt(255));
                return new Damaged(f, false, "checksum");
            }
            default -> {
                f[FrameCodec.HEADER_LENGTH + r.nextInt(payload)] ^= (byte) (1 << r.nextInt(8));
                return new Damaged(f, false, "payload");
            }
        }
    }
}
