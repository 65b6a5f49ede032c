package io.tern.links;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;

/** Three nodes writing, deleting and exchanging links in any order end up with the same links. */
class LinkConvergenceTest {
    /** One step: node n writes (or deletes) a name, or sends everything it has to node m. */
    record Step(int node, int other, int name, int value, int kind) {
    }

    private static Step step(Random r) {
        return new Step(r.nextInt(3), r.nextInt(3), r.nextInt(4), r.nextInt(10), r.nextInt(3));
    }

    /** A history of 1..40 steps: node and other 0..2, name 0..3, value 0..9, kind 0..2. */
    private static List<Step> history(Random r, int size) {
        List<Step> history = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            history.add(step(r));
        }
        return history;
    }

    /**
     * 60 tries of random histories of 1..40 steps; the first tries are the edge cases: one step at the minimum of
     * every field (a put), one at the maximum (a node sending to itself), one delete of a name never written, a history
     * of 40 steps. A failure names the seed and the try.
     */
    @Test
    void nodesThatExchangeEverythingConverge() {
        long seed = Seeds.seed("LinkConvergenceTest.nodesThatExchangeEverythingConverge");
        Random r = new Random(seed);
        List<List<Step>> edgeCases = List.of(List.of(new Step(0, 0, 0, 0, 0)), List.of(new Step(2, 2, 3, 9, 2)),
                List.of(new Step(0, 0, 0, 0, 1)), history(r, 40));
        for (int t = 0; t < 60; t++) {
            List<Step> history = t < edgeCases.size() ? edgeCases.get(t) : history(r, 1 + r.nextInt(40));
            try {
                converge(history);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("nodesThatExchangeEverythingConverge failed at try " + t + " of seed " + seed
                        + " (replay with -Dtern.seed=" + seed + "): history " + history, e);
            }
        }
    }

    private static void converge(List<Step> history) throws Exception {
        Path root = Files.createTempDirectory(Path.of("target"), "links-");
        List<LinkStore> nodes = new ArrayList<>();
        for (String n : List.of("a", "b", "c")) {
            nodes.add(LinkStore.open(root.resolve(n), n));
        }
        for (Step s : history) {
            LinkStore n = nodes.get(s.node());
            String name = "l" + s.name();
            switch (s.kind()) {
                case 0 -> n.put(name, "v" + s.value());
                case 1 -> n.delete(name);
                default -> {
                    for (Link l : n.all()) {
                        nodes.get(s.other()).merge(l);
                    }
                }
            }
        }
        // Full exchange, twice round, in a fixed order.
        for (int round = 0; round < 2; round++) {
            for (LinkStore from : nodes) {
                for (LinkStore to : nodes) {
                    for (Link l : from.all()) {
                        to.merge(l);
                    }
                }
            }
        }
        assertThat(nodes.get(1).all()).isEqualTo(nodes.get(0).all());
        assertThat(nodes.get(2).all()).isEqualTo(nodes.get(0).all());
        // And what is on disk is what is in memory.
        for (LinkStore n : nodes) {
            assertThat(LinkStore.open(root.resolve(n.node()), n.node()).all()).isEqualTo(n.all());
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
