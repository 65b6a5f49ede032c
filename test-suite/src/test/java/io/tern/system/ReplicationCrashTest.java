package io.tern.system;

import static io.tern.harness.Replication.awaitCaughtUp;
import static io.tern.harness.Replication.exportDigest;
import static io.tern.harness.Replication.init;
import static io.tern.harness.Replication.tern;
import static io.tern.harness.TernNode.number;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import io.tern.harness.TernNode;
import io.tern.harness.Workload;
import io.tern.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A primary under a continuous write load and its secondary, each killed with SIGKILL at
 * seeded random moments (the victims alternate: 10 rounds each), then restarted. The secondary
 * reconnects and catches up by itself; whenever it reports a consistent disk its replay position
 * never goes back; in the end both images are equal.
 */
class ReplicationCrashTest {
    private static final String RES = "r0";
    private static final int ROUNDS = 20;

    @TempDir
    Path dir;

    @Test
    void killedPrimaryAndSecondaryRestartAndConverge() throws Exception {
        long size = 32L << 20;
        Random random = new Random(Seeds.seed("ReplicationCrashTest"));
        try (TernNode a = init(dir, "a", "c1"); TernNode b = init(dir, "b", "c1")) {
            a.start();
            tern(a, "create", RES, "--size", "32M");
            b.start();
            tern(b, "join", RES, "--peer", a.peer());
            long consistentAt = 0;
            try (Workload load = new Workload(a::nbdAddress, RES, size, random.nextLong()).start()) {
                for (int round = 1; round <= ROUNDS; round++) {
                    TernNode victim = round % 2 == 1 ? b : a;
                    load.awaitMore(100 + random.nextInt(4000), 60); // a random moment under load
                    consistentAt = checkedPosition(b, consistentAt, round);
                    victim.kill();
                    victim.start();
                    load.awaitMore(100, 60); // the primary takes writes again (or never stopped)
                    consistentAt = checkedPosition(b, consistentAt, round);
                    System.err.printf("round %d: killed %s; acked %d writes so far; b consistent at lsn %d%n", round,
                            victim == a ? "primary" : "secondary", load.acked(), consistentAt);
                }
            }
            awaitCaughtUp(a, RES, Duration.ofSeconds(120), b);
            assertThat(checkedPosition(b, consistentAt, ROUNDS + 1)).isEqualTo(number(a.resource(RES), "logged_lsn"));
            assertThat(exportDigest(b, RES, dir)).isEqualTo(exportDigest(a, RES, dir));
            Map<String, Object> primary = a.resource(RES);
            assertThat(io.tern.harness.Replication.peers(primary)).singleElement()
                    .satisfies(p -> assertThat(p.get("state")).isEqualTo("Replicating"));
        }
    }

    /** b's replay position if its disk is consistent now, checked never to go back; else the last one. */
    private static long checkedPosition(TernNode b, long before, int round) throws Exception {
        if (!b.isAlive()) {
            return before;
        }
        Map<String, Object> r = b.resource(RES);
        String disk = (String) r.get("disk");
        assertThat(disk).as("round %d: b's disk", round).isIn("UpToDate", "Outdated", "Inconsistent");
        if (disk.equals("Inconsistent")) {
            return before;
        }
        long lsn = number(r, "replayed_lsn");
        assertThat(lsn).as("round %d: the consistent point never goes back", round).isGreaterThanOrEqualTo(before);
        return lsn;
    }
}
