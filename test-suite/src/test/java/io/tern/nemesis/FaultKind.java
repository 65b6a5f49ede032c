package io.tern.nemesis;

/** The faults the nemesis injects in this slice; each is healed within its own step. */
public enum FaultKind {
    /** SIGKILL of any node (the primary included), then a restart. */
    KILL_RESTART,
    /** {@code pause replay} on a secondary (twice, each time checking that its image is a prefix state), then resume. */
    PAUSE_REPLAY,
    /** {@code pause fetch} on a secondary while the primary writes, then resume. */
    PAUSE_FETCH,
    /**
     * {@code tern primary} on a secondary under write load: a planned handover. A refusal while
     * the target resyncs (it fell past the primary's log quota under the load) is fair and counted;
     * the handover is tried again once the target is UpToDate.
     */
    HANDOVER,
    /**
     * {@code tern adjust --log-quota 4M} on the primary and a paused fetch on a secondary, so the
     * primary goes Ahead of it and it resyncs the dirty chunks on resume.
     */
    LOG_QUOTA,
    /**
     * The primary's site is lost: writes stop and the secondaries catch up, then {@code kill -9}
     * of the primary and {@code tern primary --force} on a secondary; the old primary restarts
     * and must follow the new one by itself, with no split brain (it holds nothing the new
     * primary lacks). The tail an unquiesced failover gives up is not modelled yet.
     */
    FORCED_FAILOVER,
    /**
     * Power loss of any node (the primary included) under write load: {@code kill -9}, then its
     * file system drops everything it did not fsync ({@code PowerLossFs}); then a restart on what
     * survived.
     */
    POWER_LOSS,
    /**
     * The backing store of any node fails: every write to it gets EIO or ENOSPC (seeded) for a
     * while, then heals. A primary must refuse new writes with that error (no acknowledged write
     * lost) and take writes again by itself once healed; a secondary's replay waits and catches up.
     */
    DISK_FAULT,
    /**
     * A paused resync: {@code pause sync} on a secondary, then the primary goes Ahead of it (small
     * quota, paused fetch); on resume of its fetch the resync waits paused (disk Inconsistent,
     * nothing copied, through a {@code kill -9} and restart of that secondary) until {@code resume sync}.
     */
    PAUSE_SYNC,
    /**
     * The link into any node, through the proxy in front of it, while the primary writes: cut
     * (nothing passes either way), slow (100 ms each way and 512 KiB/s), corrupt (a bit flipped
     * in 5% of the chunks it answers with) or reset (RST of every connection, three times), for
     * at least two seconds; then healed. Every secondary must catch up.
     */
    LINK_FAULT,
    /**
     * The primary's site is lost under load: {@code kill -9} of the primary while a serial writer
     * writes, then {@code tern primary --force} on the secondary that received the most. The tail
     * the old primary acknowledged but had not shipped is given up by design: the new primary's
     * image must be the old primary's after exactly the writes its log holds (write-order
     * fidelity at the failover), with no torn block. The old primary restarts; if it holds records
     * the new primary lacks, the fork must be reported as a split brain, and {@code tern
     * invalidate} on it must resolve it; otherwise it must follow by itself.
     */
    FAILOVER_UNDER_LOAD;

    /** The name used in schedules, reports and counts. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
