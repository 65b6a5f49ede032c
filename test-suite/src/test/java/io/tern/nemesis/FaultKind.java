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
    LOG_QUOTA;

    /** The name used in schedules, reports and counts. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
