package io.tern.nemesis;

/** The faults the nemesis injects in this slice; each is healed within its own step. */
public enum FaultKind {
    /** SIGKILL of any node (the primary included), then a restart. */
    KILL_RESTART,
    /** {@code pause replay} on a secondary (twice, each time checking that its image is a prefix state), then resume. */
    PAUSE_REPLAY,
    /** {@code pause fetch} on a secondary while the primary writes, then resume. */
    PAUSE_FETCH,
    /** {@code tern primary} on a secondary under write load: a planned handover. */
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
    FORCED_FAILOVER;

    /** The name used in schedules, reports and counts. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
