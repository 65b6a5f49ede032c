package io.tern.cli;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The rate of each running full sync measured between two polls of the status, for
 * {@code tern status --watch} where the status itself carries no rate (a node that does not
 * report one, a paused and resumed copy). Fed one status document after the other with the time
 * each was taken; a copy that went back (a restart from an older stored position) starts over.
 * Not thread-safe: one watch loop owns it.
 */
final class SyncRates {
    /** By resource: {time in nanoseconds, copied bytes} of the last poll that saw it copying. */
    private final Map<String, long[]> last = new HashMap<>();
    private final Map<String, Double> rates = new HashMap<>();

    /** Takes a status document polled at {@code nanos}; returns bytes per second by resource, for those known. */
    Map<String, Double> update(Map<String, Object> status, long nanos) {
        Map<String, long[]> seen = new HashMap<>();
        List<?> resources = status.get("resources") instanceof List<?> l ? l : List.of();
        for (Object o : resources) {
            Map<?, ?> r = (Map<?, ?>) o;
            if (!(r.get("sync") instanceof Map<?, ?> sync) || !"copying".equals(sync.get("phase"))
                    || !(sync.get("copied_bytes") instanceof Number copied)) {
                continue;
            }
            String name = String.valueOf(r.get("name"));
            long[] now = {nanos, copied.longValue()};
            long[] before = last.get(name);
            if (before != null && now[0] > before[0] && now[1] >= before[1]) {
                rates.put(name, (now[1] - before[1]) * 1e9 / (now[0] - before[0]));
            } else {
                rates.remove(name);
            }
            seen.put(name, now);
        }
        last.clear();
        last.putAll(seen);
        rates.keySet().retainAll(seen.keySet());
        return Map.copyOf(rates);
    }
}
