package io.tern.log;

import java.nio.ByteBuffer;
import java.util.Random;

/** Payloads whose content is a function of their device offset, so a record can be checked alone. */
final class LogTestSupport {
    private LogTestSupport() {
    }

    static ByteBuffer payloadFor(long offset, int length) {
        byte[] b = new byte[length];
        new Random(offset * 31 + length).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    static boolean payloadMatches(LogRecord r) {
        return r.payload().equals(payloadFor(r.offset(), r.length()));
    }
}
