package io.tern.node;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.tern.block.logged.Checkpoint;

/** Status from the node home alone, when no daemon runs: configuration and durable positions. */
public final class OfflineStatus {
    private OfflineStatus() {
    }

    public static Map<String, Object> of(NodeHome home) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("node", home.node());
        m.put("running", false);
        List<Object> rs = new ArrayList<>();
        for (String name : home.resources()) {
            ResourceConfig c = ResourceConfig.load(home.resourceDir(name));
            long checkpoint = Checkpoint.load(home.resourceDir(name).resolve("checkpoint")).lsn();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", c.name());
            r.put("role", c.role().name());
            r.put("disk", "Unknown"); // the log may hold more than the checkpoint: known once the node runs
            r.put("size", c.size());
            r.put("epoch", c.epoch());
            r.put("durability", c.durability().name().toLowerCase(java.util.Locale.ROOT));
            r.put("logged_lsn", null);
            r.put("replayed_lsn", checkpoint);
            r.put("checkpoint_lsn", checkpoint);
            r.put("split_brain", false);
            r.put("peers", List.of());
            rs.add(r);
        }
        m.put("resources", rs);
        return m;
    }
}
