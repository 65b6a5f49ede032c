package io.tern.cli;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.concurrent.Callable;

import io.tern.events.Event;
import io.tern.events.EventJournal;
import io.tern.node.Json;
import io.tern.node.NodeHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "events", mixinStandardHelpOptions = true,
        description = {"The node's event journal: role, disk, peer and sync changes, split brains, problems,",
                "errors and operator actions, oldest first, one per line. Works whether or not the daemon runs."},
        footer = {"", "Examples:",
                "  tern events --since 1h --home /var/lib/tern/a",
                "  tern events --follow --json r0 --home /var/lib/tern/a | jq .",
                "", "Exit codes:", "  0  done (or --follow interrupted)", "  1  no journal in this home",
                "  2  usage: e.g. a --since that is no time"})
final class EventsCommand implements Callable<Integer> {
    @Mixin
    HomeOption home;

    @Parameters(index = "0", arity = "0..1", paramLabel = "RES", description = "Only events of this resource.")
    String resource;

    @Option(names = "--follow", description = "After the journal's end, keep printing new events as they come.")
    boolean follow;

    @Option(names = "--since", paramLabel = "TIME",
            description = "Only events from TIME on: an instant (2026-12-01T19:00:00Z), a local date-time "
                    + "(2026-12-01T20:00), or an age (90s, 10m, 2h, 7d).")
    String since;

    @Option(names = "--json", description = "One JSON object per line (time, node, resource, peer, type, from, to, reason).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        NodeHome h = NodeHome.open(home.resolve());
        Instant from = since == null ? null : parseSince(since, Instant.now());
        PrintStream out = System.out;
        EventJournal.read(h.dir().resolve(EventJournal.DIR), from, follow, () -> Thread.currentThread().isInterrupted(),
                e -> {
                    if (resource == null || resource.equals(e.resource())) {
                        out.println(json ? Json.line(e.toMap()) : e.toText());
                        if (follow) {
                            out.flush();
                        }
                    }
                });
        return 0;
    }

    /** An instant, a local date-time of this machine's zone, or an age before {@code now}. */
    static Instant parseSince(String text, Instant now) {
        Duration age = NodeHome.parseDuration(text);
        if (age != null) {
            return now.minus(age);
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException notInstant) {
            try {
                return LocalDateTime.parse(text).atZone(ZoneId.systemDefault()).toInstant();
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("--since '" + text + "' is neither an instant (2026-12-01T19:00:00Z), "
                        + "a local date-time (2026-12-01T20:00) nor an age (10m, 2h, 7d)");
            }
        }
    }
}
