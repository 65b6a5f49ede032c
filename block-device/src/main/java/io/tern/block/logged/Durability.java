package io.tern.block.logged;

/** When a {@link LoggedDevice} replies to a write. */
public enum Durability {
    /** After the write is durable in the log: FLUSH has nothing to do, FUA is implied. The default. */
    SYNC,
    /**
     * After the write is appended to the log (not yet synced): FLUSH and FUA sync the log, and so
     * does a timer every sync interval. The NBD contract exactly: unflushed writes may be lost.
     */
    FLUSH
}
