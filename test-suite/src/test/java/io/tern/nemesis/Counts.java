package io.tern.nemesis;

import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/** What a nemesis run (or a soak of many) did: steps, faults per kind, checks, violations. */
public final class Counts {
    private final Map<FaultKind, Long> faults = new EnumMap<>(FaultKind.class);
    private final Map<String, Long> checks = new TreeMap<>();
    private final Map<String, Long> events = new TreeMap<>();
    private long runs;
    private long steps;
    private long violations;
    private long writesAcked;

    public void run() {
        runs++;
    }

    public void step() {
        steps++;
    }

    public void fault(FaultKind kind) {
        faults.merge(kind, 1L, Long::sum);
    }

    /** A check that passed, by name. */
    public void check(String name) {
        checks.merge(name, 1L, Long::sum);
    }

    /** Something that happened and is worth counting but is not a check (e.g. the primary went Ahead). */
    public void event(String name) {
        events.merge(name, 1L, Long::sum);
    }

    public void violation() {
        violations++;
    }

    public void acked(long n) {
        writesAcked += n;
    }

    public long violations() {
        return violations;
    }

    public long checksPassed() {
        return checks.values().stream().mapToLong(Long::longValue).sum();
    }

    public void add(Counts o) {
        runs += o.runs;
        steps += o.steps;
        violations += o.violations;
        writesAcked += o.writesAcked;
        o.faults.forEach((k, v) -> faults.merge(k, v, Long::sum));
        o.checks.forEach((k, v) -> checks.merge(k, v, Long::sum));
        o.events.forEach((k, v) -> events.merge(k, v, Long::sum));
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append("runs: ").append(runs).append('\n');
        b.append("steps: ").append(steps).append('\n');
        b.append("writes acknowledged: ").append(writesAcked).append('\n');
        b.append("faults injected:");
        for (FaultKind k : FaultKind.values()) {
            b.append(' ').append(k.label()).append('=').append(faults.getOrDefault(k, 0L));
        }
        b.append('\n').append("checks passed: ").append(checksPassed()).append(' ').append(checks).append('\n');
        b.append("events: ").append(events).append('\n');
        b.append("violations: ").append(violations).append('\n');
        return b.toString();
    }
}
