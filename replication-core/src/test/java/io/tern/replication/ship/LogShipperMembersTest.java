package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The members a shipper keeps the log for, and the release of one that is away. */
class LogShipperMembersTest {
    @TempDir
    Path dir;

    @Test
    void onlyAnAbsentMemberIsReleasedAndItCountsAgainOnceItReturns() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log))) {
            shipper.restore("b", 10); // known from its link, not connected
            shipper.connected("c", 21);
            shipper.acked("c", 25, 20);
            assertThat(shipper.retainFrom()).isEqualTo(11);

            assertThat(shipper.release("c")).as("connected: never released").isEqualTo(-1);
            assertThat(shipper.release("x")).as("not a member").isEqualTo(-1);
            assertThat(shipper.release("b")).isEqualTo(10);
            assertThat(shipper.released()).containsEntry("b", 10L);
            assertThat(shipper.members()).doesNotContainKey("b");
            assertThat(shipper.retainFrom()).as("b no longer holds the log back").isEqualTo(21);
            assertThat(shipper.release("b")).as("once").isEqualTo(-1);

            // b returns from where it was: it is a member again and holds the log back again.
            shipper.connected("b", 11);
            assertThat(shipper.released()).isEmpty();
            assertThat(shipper.retainFrom()).isEqualTo(11);
        }
    }
}
