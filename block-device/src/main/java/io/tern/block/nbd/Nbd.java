package io.tern.block.nbd;

/** Numbers of the NBD protocol (fixed newstyle), as named in the protocol document. */
final class Nbd {
    private Nbd() {
    }

    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // Handshake flags (server) and client flags.
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    static final int CLIENT_FLAG_FIXED_NEWSTYLE = 1;
    static final int CLIENT_FLAG_NO_ZEROES = 1 << 1;

    // Options.
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    // Option replies.
    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_ERR_UNSUP = 0x80000001;
    static final int REP_ERR_POLICY = 0x80000002;
    static final int REP_ERR_INVALID = 0x80000003;
    static final int REP_ERR_UNKNOWN = 0x80000006;
    /** The server requires TLS: the option is refused until STARTTLS. */
    static final int REP_ERR_TLS_REQD = 0x80000005;

    // NBD_REP_INFO types.
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    // Transmission flags.
    static final int TX_HAS_FLAGS = 1;
    static final int TX_READ_ONLY = 1 << 1;
    static final int TX_SEND_FLUSH = 1 << 2;
    static final int TX_SEND_FUA = 1 << 3;
    static final int TX_SEND_TRIM = 1 << 5;
    static final int TX_SEND_WRITE_ZEROES = 1 << 6;
    static final int TX_CAN_MULTI_CONN = 1 << 8;

    // Commands and command flags.
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_FLAG_FUA = 1;

    // Structured reply.
    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_TYPE_NONE = 0;
    static final int REPLY_TYPE_OFFSET_DATA = 1;
    static final int REPLY_TYPE_ERROR = 0x8001;

    /** Longest option payload accepted in the handshake (an export name is at most 4096 bytes). */
    static final int MAX_OPTION_LENGTH = 8192;
    static final int MAX_NAME_LENGTH = 4096;
    /** Preferred block size advertised to clients. */
    static final int PREFERRED_BLOCK = 4096;
}
