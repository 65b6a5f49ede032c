package io.tern.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class StateWatcherTest {
    private final List<Event> events = new ArrayList<>();
    private final StateWatcher watcher = new StateWatcher("a", events::add);
    private final Instant t0 = Instant.parse("2026-12-01T10:00:00Z");

    @Test
    void firstSightReportsTheStateThenOnlyChanges() {
        watcher.observe(List.of(primary("UpToDate", peer("b", "Syncing"))), t0);
        assertThat(events).extracting(Event::type, Event::from, Event::to).containsExactly(
                org.assertj.core.groups.Tuple.tuple("role", null, "Primary"),
                org.assertj.core.groups.Tuple.tuple("disk", null, "UpToDate"),
                org.assertj.core.groups.Tuple.tuple("epoch", null, "3"),
                org.assertj.core.groups.Tuple.tuple("peer", null, "Syncing"));
        events.clear();
        watcher.observe(List.of(primary("UpToDate", peer("b", "Syncing"))), t0.plusSeconds(1));
        assertThat(events).isEmpty();
        watcher.observe(List.of(primary("UpToDate", peer("b", "Replicating"))), t0.plusSeconds(2));
        assertThat(events).singleElement().satisfies(e -> {
            assertThat(e.type()).isEqualTo("peer");
            assertThat(e.peer()).isEqualTo("b");
            assertThat(e.from()).isEqualTo("Syncing");
            assertThat(e.to()).isEqualTo("Replicating");
            assertThat(e.resource()).isEqualTo("r0");
            assertThat(e.time()).isEqualTo(t0.plusSeconds(2));
        });
    }

    @Test
    void problemsSplitBrainAndVanishedPeersAreReportedWithTheirReasons() {
        watcher.observe(List.of(primary("UpToDate", peer("b", "Replicating"))), t0);
        events.clear();
        Map<String, Object> r = primary("UpToDate", peer("b", "SplitBrain"));
        ((Map<String, Object>) ((List<?>) r.get("peers")).get(0)).put("fork_lsn", 41L);
        r.put("split_brain", true);
        r.put("problem", "the backing store is full (ENOSPC)");
        watcher.observe(List.of(r), t0.plusSeconds(1));
        assertThat(events).extracting(Event::type, Event::to, Event::reason).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("split-brain", "yes", null),
                org.assertj.core.groups.Tuple.tuple("problem", "set", "the backing store is full (ENOSPC)"),
                org.assertj.core.groups.Tuple.tuple("peer", "SplitBrain", "histories forked after lsn 41"));
        events.clear();
        watcher.observe(List.of(primary("UpToDate")), t0.plusSeconds(2));
        assertThat(events).extracting(Event::type, Event::from, Event::to).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("split-brain", "yes", "no"),
                org.assertj.core.groups.Tuple.tuple("problem", null, "cleared"),
                org.assertj.core.groups.Tuple.tuple("peer", "SplitBrain", null));
    }

    @Test
    void aCopyingSyncReportsItsProgressEveryTenSeconds() {
        Map<String, Object> r = primary("Inconsistent");
        r.put("role", "Secondary");
        Map<String, Object> sync = new LinkedHashMap<>();
        sync.put("phase", "copying");
        sync.put("copied_bytes", 1L << 20);
        sync.put("rate_bytes_per_second", 1L << 20);
        sync.put("eta_seconds", 15L);
        r.put("sync", sync);
        for (int s = 0; s <= 25; s++) {
            watcher.observe(List.of(r), t0.plusSeconds(s));
        }
        assertThat(events).filteredOn(e -> e.type().equals("sync-progress")).hasSize(2)
                .allSatisfy(e -> assertThat(e.reason()).contains("1048576 of 16777216 bytes (6%)").contains("15 s to go"));
        events.clear();
        sync.put("phase", "replaying");
        watcher.observe(List.of(r), t0.plusSeconds(30));
        assertThat(events).extracting(Event::type, Event::from, Event::to)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("sync", "copying", "replaying"));
    }

    @Test
    void eventsRoundTripThroughTheirMapAndReadAsOneLine() {
        Event e = new Event(t0, "a", "r0", "b", "peer", "Syncing", "Replicating", null);
        assertThat(Event.fromMap(e.toMap())).isEqualTo(e);
        assertThat(e.toText()).isEqualTo("2026-12-01T10:00:00Z a r0 peer b peer: Syncing -> Replicating");
        assertThat(e.describe()).isEqualTo("r0 peer b peer: Syncing -> Replicating");
        assertThat(new Event(t0, "a", null, null, "node", null, "running", "pid 7").toText())
                .isEqualTo("2026-12-01T10:00:00Z a node: - -> running (pid 7)");
    }

    private static Map<String, Object> primary(String disk, Map<?, ?>... peers) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "r0");
        r.put("role", "Primary");
        r.put("disk", disk);
        r.put("size", 16L << 20);
        r.put("epoch", 3L);
        r.put("split_brain", false);
        r.put("peers", new ArrayList<>(List.of(peers)));
        return r;
    }

    private static Map<String, Object> peer(String node, String state) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("node", node);
        p.put("state", state);
        return p;
    }
}
