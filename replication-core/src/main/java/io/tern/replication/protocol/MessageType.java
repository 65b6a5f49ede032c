package io.tern.replication.protocol;

/** The replication protocol's messages, by their code on the wire. */
public enum MessageType {
    HELLO(1), WELCOME(2), REJECT(3), RECORDS(4), ACK(5), LINKS(6), SYNC_DIGESTS(7), SYNC_DATA(8), PING(9),
    /**
     * Log record bytes as they lie in the primary's segment files, sent with sendfile: whole
     * records back to back, split across frames anywhere ({@link RecordStream} puts them back
     * together). Its frame checksum covers the frame header only; every record carries its own.
     */
    RECORD_STREAM(10),
    /** A member's role, last LSN and history, on a mesh session: sent at its start and whenever they change. */
    STATE(11),
    /** A planned handover between a secondary and its primary, on a mesh session. */
    HANDOVER(12);

    private static final MessageType[] BY_CODE = new MessageType[13];

    static {
        for (MessageType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    MessageType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The type of a code, or {@code null} if it is not one. */
    public static MessageType of(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
