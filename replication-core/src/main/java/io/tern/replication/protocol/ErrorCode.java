package io.tern.replication.protocol;

/** Why a peer was refused (REJECT) or a connection closed, as coded on the wire. */
public enum ErrorCode {
    PROTOCOL(1, "malformed frame or message"),
    VERSION(2, "unsupported protocol version"),
    WRONG_CLUSTER(3, "the peer belongs to another cluster"),
    UNKNOWN_RESOURCE(4, "no such resource here"),
    NOT_PRIMARY(5, "this node is not the resource's primary"),
    SPLIT_BRAIN(6, "the histories have diverged"),
    BEHIND_RETENTION(7, "the requested records are no longer in the log"),
    IDENTITY(8, "the HELLO names another node than the peer's certificate");

    private final int code;
    private final String meaning;

    ErrorCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }

    public static ErrorCode of(int code) {
        for (ErrorCode e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return null;
    }
}
