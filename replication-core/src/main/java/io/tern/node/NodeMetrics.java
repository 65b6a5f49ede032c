package io.tern.node;

import java.util.List;
import java.util.Locale;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tern.block.metrics.EventLoopProbe;
import io.tern.block.nbd.NbdServer;
import io.tern.replication.protocol.ErrorCode;
import io.tern.replication.ship.ReplicationServer;

/**
 * The node's own meters, beside each resource's ({@link Resource#registerMetrics}):
 * <ul>
 *   <li>{@code tern_replication_frames_rejected_total{reason}}: HELLOs the replication listener
 *       answered with a REJECT, by its code ({@code wrong_cluster}, {@code unknown_resource},
 *       {@code not_primary}, {@code split_brain}, {@code behind_retention}, {@code protocol},
 *       {@code version}), and connections it closed for a malformed frame ({@code malformed});</li>
 *   <li>{@code tern_eventloop_delay_seconds{group}}: how late a task scheduled on an event loop
 *       ran ({@link EventLoopProbe}), for the NBD server's loops ({@code nbd}) and the replication
 *       listener's ({@code replication}).</li>
 * </ul>
 * Bound once, after both servers started; {@link #close()} stops the probes (they also stop by
 * themselves when the servers' loops shut down).
 */
public final class NodeMetrics implements AutoCloseable {
    private final List<EventLoopProbe> probes;

    private NodeMetrics(List<EventLoopProbe> probes) {
        this.probes = probes;
    }

    public static NodeMetrics bind(MeterRegistry registry, NbdServer nbd, ReplicationServer replication) {
        for (ErrorCode code : ErrorCode.values()) {
            FunctionCounter.builder("tern.replication.frames.rejected", replication, r -> r.rejected(code))
                    .tag("reason", code.name().toLowerCase(Locale.ROOT))
                    .description("HELLOs refused with a REJECT, by code; malformed: connections closed for a bad frame")
                    .register(registry);
        }
        FunctionCounter.builder("tern.replication.frames.rejected", replication, ReplicationServer::protocolErrors)
                .tag("reason", "malformed")
                .description("HELLOs refused with a REJECT, by code; malformed: connections closed for a bad frame")
                .register(registry);
        return new NodeMetrics(List.of(EventLoopProbe.start(nbd.eventLoops(), "nbd", registry),
                EventLoopProbe.start(replication.eventLoops(), "replication", registry)));
    }

    @Override
    public void close() {
        probes.forEach(EventLoopProbe::close);
    }
}
