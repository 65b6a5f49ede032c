package io.tern.nemesis;

/**
 * One step of a schedule: a fault, a number {@code pick} that chooses its victim among the nodes
 * that fit at the time (a node for a kill, a secondary for the others: {@code pick % count} in
 * name order, so a replay picks the same node), how many writes are acknowledged before the fault
 * ({@code before}) and while it lasts ({@code during}), and the seed of the step's writer.
 */
public record Step(int index, FaultKind kind, int pick, int before, int during, long writerSeed) {
    @Override
    public String toString() {
        return index + ":" + kind.label() + "(pick " + pick + ", " + before + "+" + during + " writes)";
    }
}
