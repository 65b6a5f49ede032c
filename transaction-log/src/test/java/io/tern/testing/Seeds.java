package io.tern.testing;

/** The seed of randomised tests: {@code -Dtern.seed=N} replays a run; every test prints the seed it used. */
public final class Seeds {
    private Seeds() {
    }

    public static long seed(String what) {
        long seed = Long.getLong("tern.seed", 20261121L);
        System.err.println(what + ": seed " + seed + " (replay with -Dtern.seed=" + seed + ")");
        return seed;
    }
}
