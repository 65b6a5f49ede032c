package io.tern.nemesis;

/**
 * One step of a schedule: a fault, a number {@code pick} that chooses its victim among the nodes
 * that fit at the time (a node for a kill, a secondary for the others: {@code pick % count} in
 * name order, so a replay picks the same node), how many writes are acknowledged before the fault
 * ({@code before}) and while it lasts ({@code during}), the seed of the step's writer, and
 * {@code overlap}: -1, or a number that chooses a second fault held through the whole step
 * (see {@link Nemesis}: a slowed or corrupting link into a node, {@code overlap % 3} the node).
 */
public record Step(int index, FaultKind kind, int pick, int before, int during, long writerSeed, int overlap) {
    @Override
    public String toString() {
        return index + ":" + kind.label() + "(pick " + pick + ", " + before + "+" + during + " writes"
                + (overlap >= 0 ? ", overlap " + overlap : "") + ")";
    }
}
