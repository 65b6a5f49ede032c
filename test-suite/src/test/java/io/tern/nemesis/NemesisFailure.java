package io.tern.nemesis;

import java.nio.file.Path;

/** A nemesis run that found a violation: the seed, where its report is, and what the run counted. */
public final class NemesisFailure extends AssertionError {
    private static final long serialVersionUID = 1L;
    private final transient Counts counts;
    private final long seed;
    private final transient Path report;

    NemesisFailure(String message, Throwable cause, long seed, Path report, Counts counts) {
        super(message, cause);
        this.seed = seed;
        this.report = report;
        this.counts = counts;
    }

    public long seed() {
        return seed;
    }

    public Path report() {
        return report;
    }

    public Counts counts() {
        return counts;
    }
}
