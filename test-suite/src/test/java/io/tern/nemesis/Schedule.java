package io.tern.nemesis;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A schedule is a pure function of its seed: the same seed gives the same steps, so a failing
 * seed replays the same faults in the same order against the same victims (the moments inside a
 * step depend on the machine's timing; the order and the victims do not).
 */
public final class Schedule {
    /** Relative weights of the kinds, in {@link FaultKind} order. */
    private static final int[] WEIGHTS = {4, 2, 2, 2, 1, 1, 2, 2, 1, 3, 2};

    private final long seed;
    private final List<Step> steps;

    private Schedule(long seed, List<Step> steps) {
        this.seed = seed;
        this.steps = List.copyOf(steps);
    }

    public static Schedule of(long seed, int count) {
        Random random = new Random(seed);
        List<Step> steps = new ArrayList<>();
        int total = 0;
        for (int w : WEIGHTS) {
            total += w;
        }
        for (int i = 1; i <= count; i++) {
            int x = random.nextInt(total);
            int k = 0;
            while (x >= WEIGHTS[k]) {
                x -= WEIGHTS[k++];
            }
            FaultKind kind = FaultKind.values()[k];
            int pick = random.nextInt(1 << 16);
            int before = 50 + random.nextInt(250);
            int during = 100 + random.nextInt(400);
            long writerSeed = random.nextLong();
            int overlap = random.nextInt(1 << 16);
            steps.add(new Step(i, kind, pick, before, during, writerSeed, random.nextInt(4) == 0 ? overlap : -1));
        }
        return new Schedule(seed, steps);
    }

    public long seed() {
        return seed;
    }

    public List<Step> steps() {
        return steps;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("nemesis seed=" + seed + " steps:");
        for (Step s : steps) {
            b.append(' ').append(s.index()).append(':').append(s.kind().label()).append('/').append(s.pick());
            if (s.overlap() >= 0) {
                b.append('+').append(s.overlap());
            }
        }
        return b.toString();
    }
}
