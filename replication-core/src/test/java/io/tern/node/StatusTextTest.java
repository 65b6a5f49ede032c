package io.tern.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class StatusTextTest {
    @Test
    void aSecondaryShowsItsSyncProgressAndWhyItCannotStoreWhatItReceives() {
        Map<String, Object> peer = new LinkedHashMap<>();
        peer.put("node", "primary");
        peer.put("state", "Connecting");
        peer.put("received_lsn", 1030);
        peer.put("replayed_lsn", 1030);
        peer.put("lag_records", 42129);
        peer.put("error", "no space for the log in /x: 67158016 bytes usable");
        Map<String, Object> sync = Map.of("phase", "copying", "copied_bytes", 1L << 29, "rate_bytes_per_second", 1L << 20,
                "eta_seconds", 512, "end_lsn", 7);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "r0");
        r.put("role", "Secondary");
        r.put("disk", "Inconsistent");
        r.put("epoch", 1);
        r.put("logged_lsn", 1030);
        r.put("replayed_lsn", 1030);
        r.put("size", 1L << 30);
        r.put("sync", sync);
        r.put("peers", List.of(peer));
        String text = StatusText.render(Map.of("node", "b", "running", true, "pid", 9, "nbd", "127.0.0.1:1",
                "resources", List.of(r)));
        assertThat(text).contains("r0 role:Secondary disk:Inconsistent epoch:1 size:1.0 GiB\n")
                .contains("    sync: copying [##########..........]  50% 512.0 MiB/1.0 GiB 1.0 MiB/s ETA 8m32s\n")
                .contains("          replay must pass lsn 7\n")
                .contains("  primary state:Connecting connected:no\n    received 1030 replayed 1030 lag 42129 records\n"
                        + "    error: no space for the log in /x");
    }

    @Test
    void theAddressTheMembersDialShowsOnlyWhenItIsNotTheListenAddress() {
        Map<String, Object> node = new LinkedHashMap<>(Map.of("node", "c", "running", true, "pid", 9, "cluster", "c1",
                "listen", "0.0.0.0:7800", "advertise", "203.0.113.7:7800", "nbd", "127.0.0.1:10809", "resources", List.of()));
        assertThat(StatusText.render(node)).startsWith("node c: running, pid 9, cluster c1, listen 0.0.0.0:7800 "
                + "(members dial 203.0.113.7:7800), NBD 127.0.0.1:10809\n");
        node.put("advertise", "0.0.0.0:7800");
        assertThat(StatusText.render(node)).startsWith("node c: running, pid 9, cluster c1, listen 0.0.0.0:7800, "
                + "NBD 127.0.0.1:10809\n");
    }

    @Test
    void aSplitBrainShowsWhereTheHistoriesDivergeAndWhatEachSideHolds() {
        Map<String, Object> peer = new LinkedHashMap<>();
        peer.put("node", "a");
        peer.put("state", "SplitBrain");
        peer.put("fork_lsn", 474);
        peer.put("records_past_fork_here", 21);
        peer.put("records_past_fork_there", 91);
        peer.put("bytes_past_fork_here", 81920L);
        peer.put("bytes_past_fork_there", -1L);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "r0");
        r.put("role", "Primary");
        r.put("disk", "UpToDate");
        r.put("epoch", 2);
        r.put("logged_lsn", 495);
        r.put("replayed_lsn", 495);
        r.put("size", 1L << 30);
        r.put("peers", List.of(peer));
        String text = StatusText.render(Map.of("node", "b", "running", true, "pid", 9, "nbd", "127.0.0.1:1",
                "resources", List.of(r)));
        assertThat(text).contains("  a state:SplitBrain connected:no\n    histories diverge after lsn 474: 21 records (80.0 KiB) "
                + "here, 91 records there; resolve with 'tern invalidate r0' on the node whose changes go\n");
    }
}
