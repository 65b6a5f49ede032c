package io.tern.replication.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HistoryTest {
    @TempDir
    Path dir;

    private static final Version V1 = Version.start(1, "a", 1, Version.ROOT);
    private static final Version V2A = Version.start(2, "a", 100, V1.digest());
    private static final Version V2B = Version.start(2, "b", 100, V1.digest());
    private static final Version V3B = Version.start(3, "b", 150, V1.digest());

    @Test
    void aVersionSurvivesItsEpochRecordAndItsLine() {
        Version back = Version.fromEpochRecord(V2A.epoch(), V2A.start(), ByteBuffer.wrap(V2A.epochPayload()));
        assertThat(back).isEqualTo(V2A);
        assertThat(Version.parseLine(V2A.toLine())).isEqualTo(V2A);
        assertThat(V2A.follows(V1)).isTrue();
        assertThat(V2A).as("same epoch and start, another node").isNotEqualTo(V2B);
        String tampered = V2A.toLine().replace(" 100 ", " 101 ");
        assertThatThrownBy(() -> Version.parseLine(tampered)).hasMessageContaining("digest does not match");
    }

    @Test
    void sameVersionNeverForks() {
        History h = History.of(List.of(V1));
        History.Divergence d = History.compare(h, 80, h, 50);
        assertThat(d.forked()).isFalse();
        assertThat(d.commonLsn()).isEqualTo(50);
        assertThat(d.minePast()).isEqualTo(30);
        assertThat(d.theirsPast()).isZero();
    }

    @Test
    void aPeerBehindAnOlderVersionFollowsWhileItHoldsNothingPastItsEnd() {
        History primary = History.of(List.of(V1, V2B)); // b took over at lsn 100
        History old = History.of(List.of(V1));
        assertThat(History.compare(primary, 120, old, 99).forked()).as("old primary stopped at 99").isFalse();
        History.Divergence d = History.compare(primary, 120, old, 104);
        assertThat(d.forked()).as("old primary went on to 104 in epoch 1").isTrue();
        assertThat(d.commonLsn()).isEqualTo(99);
        assertThat(d.minePast()).isEqualTo(21);
        assertThat(d.theirsPast()).isEqualTo(5);
        assertThat(d.lastCommon()).isEqualTo(V1);
    }

    @Test
    void twoPrimariesOfTheSameEpochFork() {
        History a = History.of(List.of(V1, V2A));
        History b = History.of(List.of(V1, V2B));
        History.Divergence d = History.compare(a, 110, b, 100);
        assertThat(d.forked()).isTrue();
        assertThat(d.commonLsn()).isEqualTo(99);
        assertThat(d.minePast()).isEqualTo(11);
        assertThat(d.theirsPast()).isEqualTo(1);
        History c = History.of(List.of(V1, V3B));
        History.Divergence e = History.compare(a, 110, c, 160);
        assertThat(e.commonLsn()).as("the earlier of the two starts").isEqualTo(99);
        assertThat(e.forked()).isTrue();
    }

    @Test
    void nothingInCommonForksAtZero() {
        History a = History.of(List.of(V1));
        History other = History.of(List.of(Version.start(1, "z", 1, Version.ROOT)));
        History.Divergence d = History.compare(a, 10, other, 5);
        assertThat(d.forked()).isTrue();
        assertThat(d.commonLsn()).isZero();
        assertThat(History.compare(a, 10, History.empty(), 0).forked()).as("a node that holds nothing").isFalse();
        assertThat(History.compare(History.empty(), 10, History.empty(), 7).forked()).as("bare logs: by LSN").isFalse();
    }

    @Test
    void aHistoryCutForTheWireAlignsOnItsFirstVersion() {
        List<Version> chain = new ArrayList<>(List.of(V1));
        for (int e = 2; e <= History.MAX_WIRE_VERSIONS + 10; e++) {
            Version prev = chain.get(chain.size() - 1);
            chain.add(Version.start(e, "a", e * 10L, prev.digest()));
        }
        History full = History.of(chain);
        History wire = History.of(full.forWire());
        assertThat(wire.versions()).hasSize(History.MAX_WIRE_VERSIONS);
        long last = full.head().start() + 5;
        assertThat(History.compare(full, last, wire, last).forked()).isFalse();
        assertThat(History.compare(wire, last, full, last - 3).theirsPast()).isZero();
    }

    @Test
    void aHistoryFileRoundTripsAndRefusesBrokenChains() throws Exception {
        History h = History.of(List.of(V1, V2A));
        Path f = dir.resolve("history");
        assertThat(History.load(f)).isEqualTo(History.empty());
        h.store(f);
        assertThat(History.load(f)).isEqualTo(h);
        assertThat(History.load(f).head()).isEqualTo(V2A);
        Files.writeString(f, V1.toLine() + "\n" + V3B.toLine() + "\n" + Version.start(4, "a", 200, V2A.digest()).toLine() + "\n");
        assertThatThrownBy(() -> History.load(f)).hasMessageContaining("does not follow");
        assertThatThrownBy(() -> h.with(V2B)).isInstanceOf(IllegalArgumentException.class);
    }
}
