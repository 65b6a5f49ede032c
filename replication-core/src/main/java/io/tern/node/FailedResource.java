package io.tern.node;

import java.util.Map;

import io.micrometer.core.instrument.MeterRegistry;
import io.tern.block.BlockDevice;
import io.tern.replication.ship.LogShipper;

/**
 * A resource that could not be opened: its log refused recovery (acknowledged records are
 * damaged), its backing store is missing, its settings are unreadable. It serves nothing and
 * changes nothing on disk; status shows it {@code Failed} with the reason, which names what to
 * do. The node's other resources keep serving.
 */
final class FailedResource extends Resource {
    private final String reason;

    FailedResource(ResourceConfig config, Throwable cause) {
        super(config);
        this.reason = String.valueOf(cause.getMessage());
    }

    String reason() {
        return reason;
    }

    @Override
    public BlockDevice exportDevice() {
        return null;
    }

    @Override
    public LogShipper shipper() {
        return null;
    }

    @Override
    public void registerMetrics(MeterRegistry registry) {
        // nothing runs: nothing to measure
    }

    @Override
    public void tick() {
    }

    @Override
    public Map<String, Object> status() {
        Map<String, Object> m = baseStatus("Failed", 0, 0);
        m.put("error", reason);
        return m;
    }

    @Override
    public void close() {
    }
}
