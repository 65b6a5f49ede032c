package io.tern.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EventJournalTest {
    @TempDir
    Path dir;

    @Test
    void whatIsRecordedIsReadBackInOrderAndFromATime() throws Exception {
        Instant t0 = Instant.parse("2026-12-01T10:00:00Z");
        try (EventJournal j = EventJournal.open(dir, Duration.ofDays(7))) {
            for (int i = 0; i < 100; i++) {
                j.record(new Event(t0.plusSeconds(i), "a", "r0", null, "disk", "s" + i, "s" + (i + 1), null));
            }
        }
        List<Event> all = new ArrayList<>();
        assertThat(EventJournal.read(dir, null, false, () -> false, all::add)).isEqualTo(100);
        assertThat(all).extracting(Event::from).first().isEqualTo("s0");
        assertThat(all).extracting(Event::time).isSorted();
        List<Event> late = new ArrayList<>();
        EventJournal.read(dir, t0.plusSeconds(90), false, () -> false, late::add);
        assertThat(late).hasSize(10).first().satisfies(e -> assertThat(e.time()).isEqualTo(t0.plusSeconds(90)));
    }

    @Test
    void aFollowerSeesEventsWrittenAfterItStarted() throws Exception {
        try (EventJournal j = EventJournal.open(dir, Duration.ofDays(7))) {
            j.record(new Event(Instant.now(), "a", null, null, "node", null, "running", null));
            List<Event> seen = new CopyOnWriteArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            Thread follower = new Thread(() -> {
                try {
                    EventJournal.read(dir, null, true, stop::get, seen::add);
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            follower.start();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == 1);
            j.record(new Event(Instant.now(), "a", "r0", "b", "peer", "Connecting", "Replicating", null));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> seen.size() == 2);
            stop.set(true);
            follower.join(10_000);
            assertThat(seen.get(1).to()).isEqualTo("Replicating");
        }
    }

    @Test
    void pruningDeletesOnlyFilesOlderThanTheRetentionAndNeverTheNewest() throws Exception {
        try (EventJournal j = EventJournal.open(dir, Duration.ofDays(7))) {
            j.record(new Event(Instant.now(), "a", null, null, "node", null, "running", null));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> j.written() == 1);
            Path old = dir.resolve("20200101F.cq4");
            Files.write(old, new byte[0]);
            Files.setLastModifiedTime(old, FileTime.from(Instant.now().minus(Duration.ofDays(30))));
            assertThat(j.prune(Instant.now())).isEqualTo(1);
            assertThat(old).doesNotExist();
            try (var s = Files.list(dir)) {
                Path current = s.filter(p -> p.toString().endsWith(".cq4")).findFirst().orElseThrow();
                Files.setLastModifiedTime(current, FileTime.from(Instant.now().minus(Duration.ofDays(30))));
            }
            assertThat(j.prune(Instant.now())).as("the newest file stays").isZero();
        }
    }

    @Test
    void aHomeWithoutAJournalIsAClearError() {
        assertThatThrownBy(() -> EventJournal.read(dir.resolve("events"), null, false, () -> false, e -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("no event journal");
    }
}
