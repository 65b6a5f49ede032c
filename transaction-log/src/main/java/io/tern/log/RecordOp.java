package io.tern.log;

/** What a log record does to the device, as coded on disk and on the wire. */
public enum RecordOp {
    /** Write {@code length} bytes of payload at the device offset. */
    WRITE(1),
    /** Zero (or trim) {@code length} bytes at the device offset; no payload. */
    ZERO(2),
    /** Start of a primary's term: the record's epoch and LSN start the term; payload = digest of the history before it. */
    EPOCH(3);

    private static final RecordOp[] BY_CODE = {null, WRITE, ZERO, EPOCH};

    private final byte code;

    RecordOp(int code) {
        this.code = (byte) code;
    }

    public byte code() {
        return code;
    }

    /** The op for a code, or {@code null} if the code is not one of ours. */
    public static RecordOp fromCode(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
