package io.tern.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.tern.node.Json;
import io.tern.node.StatusText;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tern status} for people: the per-resource blocks, the progress bar with rate and ETA
 * (the status's own rate, or one measured between two polls), and {@code --watch} frames: in
 * place on a terminal, plain and free of escape codes elsewhere.
 */
class StatusCommandTest {
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    @Test
    void theProgressBarShowsShareBytesRateAndEta() {
        assertThat(StatusText.progress(55 * MIB / 2, 64 * MIB, 12.3 * MIB, 3))
                .isEqualTo("[########............]  42% 27.5 MiB/64.0 MiB 12.3 MiB/s ETA 3s");
        assertThat(StatusText.progress(0, 64 * MIB, 0, -1)).isEqualTo("[....................]   0% 0 B/64.0 MiB");
        assertThat(StatusText.progress(64 * MIB, 64 * MIB, MIB, 0))
                .isEqualTo("[####################] 100% 64.0 MiB/64.0 MiB 1.0 MiB/s ETA 0s");
        assertThat(StatusText.eta(36 * MIB, 12 * MIB)).isEqualTo(3);
        assertThat(StatusText.eta(36 * MIB + 1, 12 * MIB)).as("rounded up").isEqualTo(4);
        assertThat(StatusText.eta(MIB, 0)).as("no rate, no ETA").isEqualTo(-1);
        assertThat(StatusText.duration(3)).isEqualTo("3s");
        assertThat(StatusText.duration(512)).isEqualTo("8m32s");
        assertThat(StatusText.duration(7500)).isEqualTo("2h05m");
        assertThat(StatusText.duration(3 * 86400 + 4 * 3600 + 59)).isEqualTo("3d04h");
    }

    @Test
    void aRateIsMeasuredBetweenTwoPollsAndForgottenWhenTheCopyGoesBackOrEnds() {
        SyncRates rates = new SyncRates();
        assertThat(rates.update(secondary(10 * MIB, null), 0)).as("one poll: no rate yet").isEmpty();
        assertThat(rates.update(secondary(22 * MIB, null), 2_000_000_000L)).containsEntry("r0", 6.0 * MIB);
        assertThat(rates.update(secondary(4 * MIB, null), 3_000_000_000L)).as("restarted from an older position").isEmpty();
        assertThat(rates.update(secondary(8 * MIB, null), 4_000_000_000L)).containsEntry("r0", 4.0 * MIB);
        Map<String, Object> done = secondary(64 * MIB, null);
        ((Map<String, Object>) ((Map<String, Object>) ((List<?>) done.get("resources")).get(0)).get("sync")).put("phase", "done");
        assertThat(rates.update(done, 5_000_000_000L)).isEmpty();
    }

    @Test
    void aSyncingSecondaryShowsItsProgressWithTheStatussRateOrAMeasuredOne() {
        String own = StatusText.render(secondary(55 * MIB / 2, 12.3 * MIB));
        System.out.print(own);
        assertThat(own).contains("node b: running, pid 9, cluster c1, listen 127.0.0.1:7800, NBD 127.0.0.1:10809\n")
                .contains("r0 role:Secondary disk:Inconsistent epoch:1 size:64.0 MiB durability:sync\n")
                .contains("    sync: copying [########............]  42% 27.5 MiB/64.0 MiB 12.3 MiB/s ETA 3s\n")
                .contains("          log fetched from lsn 1000; digest xxh128; sent 20.0 MiB, found equal 7.5 MiB\n")
                .contains("  primary (127.0.0.1:7800) state:Syncing connected:yes\n")
                .contains("    received 1030 replayed 1030 primary 1044 lag 14 records\n");
        Map<String, Object> noRate = secondary(32 * MIB, null);
        assertThat(StatusText.render(noRate)).contains("[##########..........]  50% 32.0 MiB/64.0 MiB\n");
        assertThat(StatusText.render(noRate, Map.of("r0", 8.0 * MIB)))
                .contains("[##########..........]  50% 32.0 MiB/64.0 MiB 8.0 MiB/s ETA 4s\n");
    }

    @Test
    void aPrimaryShowsLogSpaceAndEachPeerWithItsLagBehindStateAndSplitBrain() {
        Map<String, Object> r = resource("Primary", "UpToDate");
        r.put("log_first_lsn", 100);
        r.put("log_bytes", 3 * MIB);
        r.put("log_quota_bytes", 4 * MIB);
        r.put("split_brain", true);
        Map<String, Object> behind = peer("b", false, "Behind");
        behind.put("lag_bytes", 5 * MIB);
        behind.put("lag_seconds", 12.5);
        behind.put("dirty_bytes", 16 * MIB);
        behind.put("dirty_since_lsn", 400);
        Map<String, Object> forked = new LinkedHashMap<>();
        forked.put("node", "c");
        forked.put("connected", false);
        forked.put("state", "SplitBrain");
        forked.put("fork_lsn", 474);
        forked.put("records_past_fork_here", 21);
        forked.put("records_past_fork_there", 91);
        forked.put("bytes_past_fork_here", 81920L);
        forked.put("bytes_past_fork_there", -1L);
        r.put("peers", List.of(behind, forked));
        r.put("problem", "the backing store refused a write (ENOSPC); retried");
        String text = StatusText.render(node(r));
        System.out.print(text);
        assertThat(text).contains("r0 role:Primary disk:UpToDate epoch:1 size:64.0 MiB durability:sync SPLIT-BRAIN\n")
                .contains("    lsn: logged 1030 replayed 1030 checkpoint 1000\n")
                .contains("    log: 3.0 MiB used of 4.0 MiB quota (75%), from lsn 100\n")
                .contains("    history: head 0123456789ab by a from lsn 1\n")
                .contains("    problem: the backing store refused a write (ENOSPC); retried\n")
                .contains("  b state:Behind connected:no\n    received 900 replayed 880 lag 150 records, 5.0 MiB, 12.5 s\n")
                .contains("    dirty 16.0 MiB since lsn 400: copied by chunks when it returns\n")
                .contains("  c state:SplitBrain connected:no\n    histories diverge after lsn 474: 21 records (80.0 KiB) here,"
                        + " 91 records there; resolve with 'tern invalidate r0' on the node whose changes go\n")
                .doesNotContain("received - replayed -");
    }

    @Test
    void anOfflineNodeShowsWhatItsHomeSays() {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "r0");
        r.put("role", "Secondary");
        r.put("disk", "Unknown");
        r.put("size", 64 * MIB);
        r.put("epoch", 3);
        r.put("durability", "flush");
        r.put("logged_lsn", null);
        r.put("replayed_lsn", 77);
        r.put("checkpoint_lsn", 77);
        r.put("split_brain", false);
        r.put("peers", List.of());
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("node", "b");
        status.put("running", false);
        status.put("resources", List.of(r));
        assertThat(StatusText.render(status)).startsWith("node b: not running")
                .contains("r0 role:Secondary disk:Unknown epoch:3 size:64.0 MiB durability:flush\n")
                .contains("    lsn: logged - replayed 77 checkpoint 77\n");
    }

    @Test
    void watchFramesRedrawInPlaceOnATerminalAndArePlainElsewhere() {
        String body = "node a: running\nr0 role:Primary\n";
        Instant at = Instant.parse("2026-12-01T19:40:01.345Z");
        WatchOutput plain = new WatchOutput(false, false);
        String frames = plain.frame(body, at, "1s") + plain.frame(body, at.plusSeconds(1), "1s");
        assertThat(frames).doesNotContain("\033")
                .isEqualTo("--- 2026-12-01T19:40:01.345Z\n" + body + "\n--- 2026-12-01T19:40:02.345Z\n" + body + "\n");

        WatchOutput screen = new WatchOutput(true, false);
        String first = screen.frame(body, at, "1s");
        String second = screen.frame(body, at, "1s");
        assertThat(first).startsWith(WatchOutput.CURSOR_HOME + WatchOutput.CLEAR_SCREEN).endsWith(WatchOutput.CLEAR_TO_SCREEN_END)
                .contains("every 1s: tern status   2026-12-01T19:40:01Z\033[K\n")
                .contains("r0 role:Primary\033[K\n");
        assertThat(second).as("later frames overwrite, without clearing the screen first (no flicker)")
                .startsWith(WatchOutput.CURSOR_HOME + "every").doesNotContain(WatchOutput.CLEAR_SCREEN);

        WatchOutput jsonLines = new WatchOutput(true, true);
        assertThat(jsonLines.frame("{\"node\":\"a\"}", at, "1s")).isEqualTo("{\"node\":\"a\"}\n");
    }

    @Test
    void watchWithoutATerminalPrintsPlainTimestampedBlocksOrJsonLinesAndStopsAfterCount() throws Exception {
        String home = dir.resolve("a").toString();
        assertThat(Main.run("init", "--home", home, "--node", "a")).isZero();
        assertThat(Main.run("create", "r0", "--size", "8M", "--home", home)).isZero();

        Run text = capture("status", "--watch", "--count", "3", "--interval", "0.05", "--home", home);
        assertThat(text.code).isZero();
        assertThat(text.out).doesNotContain("\033");
        assertThat(text.out.split("\n")).filteredOn(l -> l.startsWith("--- ")).hasSize(3);
        assertThat(text.out).contains("node a: not running").contains("r0 role:Primary disk:Unknown");

        Run json = capture("status", "r0", "--json", "--watch", "--count", "2", "--interval", "0.05", "--home", home);
        assertThat(json.code).isZero();
        String[] lines = json.out.split("\n");
        assertThat(lines).hasSize(2);
        for (String line : lines) {
            Map<?, ?> doc = (Map<?, ?>) Json.parse(line);
            assertThat(doc.get("running")).isEqualTo(false);
            assertThat((List<?>) doc.get("resources")).hasSize(1);
        }

        assertThat(capture("status", "nope", "--home", home).code).as("no such resource").isEqualTo(4);
        assertThat(capture("status", "--watch", "--interval", "0", "--home", home).code).as("bad usage").isEqualTo(2);
        Run help = capture("status", "--help");
        assertThat(help.out).contains("--watch").contains("--interval=SECONDS").contains("Exit codes:")
                .contains("Examples:").contains("tern status r0 --watch --interval 2 --home /srv/tern");
    }

    private record Run(int code, String out) {
    }

    private static Run capture(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            code = Main.run(args);
        } finally {
            System.setOut(old);
        }
        return new Run(code, out.toString(StandardCharsets.UTF_8));
    }

    private static Map<String, Object> secondary(long copied, Double rate) {
        Map<String, Object> sync = new LinkedHashMap<>();
        sync.put("phase", "copying");
        sync.put("start_lsn", 1000);
        sync.put("end_lsn", 0);
        sync.put("copied_bytes", copied);
        sync.put("digest", "xxh128");
        if (rate != null) {
            sync.put("sent_bytes", 20 * MIB);
            sync.put("same_bytes", 15 * MIB / 2);
            sync.put("rate_bytes_per_second", rate.longValue());
            sync.put("eta_seconds", StatusText.eta(64 * MIB - copied, rate));
        }
        Map<String, Object> r = resource("Secondary", "Inconsistent");
        r.put("replay_paused", false);
        r.put("fetch_paused", false);
        r.put("sync_paused", false);
        r.put("sync", sync);
        Map<String, Object> peer = new LinkedHashMap<>();
        peer.put("node", "primary");
        peer.put("address", "127.0.0.1:7800");
        peer.put("connected", true);
        peer.put("state", "Syncing");
        peer.put("primary_lsn", 1044);
        peer.put("received_lsn", 1030);
        peer.put("replayed_lsn", 1030);
        peer.put("lag_records", 14);
        r.put("peers", List.of(peer));
        return node(r);
    }

    private static Map<String, Object> resource(String role, String disk) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", "r0");
        r.put("role", role);
        r.put("disk", disk);
        r.put("size", 64 * MIB);
        r.put("epoch", 1);
        r.put("durability", "sync");
        r.put("logged_lsn", 1030);
        r.put("replayed_lsn", 1030);
        r.put("split_brain", false);
        r.put("checkpoint_lsn", 1000);
        r.put("chain_head", "0123456789ab");
        r.put("chain_head_node", "a");
        r.put("chain_head_start_lsn", 1);
        return r;
    }

    private static Map<String, Object> peer(String node, boolean connected, String state) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("node", node);
        p.put("connected", connected);
        p.put("state", state);
        p.put("received_lsn", 900);
        p.put("replayed_lsn", 880);
        p.put("lag_records", 150);
        return p;
    }

    private static Map<String, Object> node(Map<String, Object> resource) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", "b");
        m.put("running", true);
        m.put("pid", 9);
        m.put("cluster", "c1");
        m.put("listen", "127.0.0.1:7800");
        m.put("nbd", "127.0.0.1:10809");
        m.put("resources", List.of(resource));
        return m;
    }
}
