package io.tern.block;

/** A block request failed; {@link #error()} says how, the message says where and why. */
public final class BlockDeviceException extends RuntimeException {
    private final BlockError error;

    public BlockDeviceException(BlockError error, String message) {
        super(message);
        this.error = error;
    }

    public BlockDeviceException(BlockError error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    public BlockError error() {
        return error;
    }

    /** The block error behind {@code t} (unwrapping completion wrappers), EIO if it is not one of ours. */
    public static BlockError errorOf(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BlockDeviceException b) {
                return b.error;
            }
        }
        return BlockError.EIO;
    }
}
