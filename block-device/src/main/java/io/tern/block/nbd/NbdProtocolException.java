package io.tern.block.nbd;

/** A client broke the protocol (bad magic, bad lengths, unknown flags): its connection is closed. */
public final class NbdProtocolException extends RuntimeException {
    public NbdProtocolException(String message) {
        super(message);
    }
}
