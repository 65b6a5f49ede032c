package io.tern.links;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Three nodes writing, deleting and exchanging links in any order end up with the same links. */
class LinkConvergenceTest {
    /** One step: node n writes (or deletes) a name, or sends everything it has to node m. */
    record Step(int node, int other, int name, int value, int kind) {
    }

    @Provide
    Arbitrary<List<Step>> histories() {
        Arbitrary<Step> step = Combinators.combine(Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 2),
                        Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 9),
                        Arbitraries.integers().between(0, 2))
                .as(Step::new);
        return step.list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 60)
    void nodesThatExchangeEverythingConverge(@ForAll("histories") List<Step> history) throws Exception {
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
