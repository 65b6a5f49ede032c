package io.tern.replication.ship;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.BitSet;

import io.netty.channel.embedded.EmbeddedChannel;
import io.tern.log.LogConfig;
import io.tern.log.TransactionLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The members a shipper keeps the log for, the release of one that is away, and going Ahead of one. */
class LogShipperMembersTest {
    @TempDir
    Path dir;

    @Test
    void onlyAnAbsentMemberIsReleasedAndItCountsAgainOnceItReturns() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log))) {
            shipper.restore("b", 10); // known from its link, not connected
            EmbeddedChannel c = new EmbeddedChannel();
            shipper.opened("c", c, true);
            shipper.connected("c", 21);
            shipper.acked("c", 25, 20);
            assertThat(shipper.retainFrom()).isEqualTo(11);
            assertThat(shipper.members().get("c").connected()).isTrue();
            assertThat(shipper.members().get("b").connected()).isFalse();

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

            // c's session ends: it is away, and may be released like any absent member.
            shipper.closed("c", c, false);
            assertThat(shipper.members().get("c").connected()).isFalse();
            assertThat(shipper.release("c")).isEqualTo(20);
        }
    }

    @Test
    void aMemberWhoseFullSyncSessionDiedIsReleasable() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log))) {
            EmbeddedChannel sync = new EmbeddedChannel();
            shipper.pinned("b", 5);
            shipper.opened("b", sync, false);
            assertThat(shipper.syncing("b")).isTrue();
            assertThat(shipper.release("b")).as("syncing and connected").isEqualTo(-1);
            shipper.closed("b", sync, true); // killed at 10% of its sync
            assertThat(shipper.syncing("b")).isFalse();
            assertThat(shipper.members().get("b").connected()).isFalse();
            assertThat(shipper.release("b")).isEqualTo(4);
        }
    }

    @Test
    void goingAheadOfAMemberMovesItsPlaceCutsItsSessionsAndLastsUntilItFollowsPastTheMap() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log))) {
            EmbeddedChannel session = new EmbeddedChannel();
            shipper.opened("b", session, true);
            shipper.connected("b", 11);
            shipper.acked("b", 30, 20);
            BitSet chunks = new BitSet();
            chunks.set(3);
            shipper.goAhead("b", new DirtyMap(20, 99, chunks));
            assertThat(session.isOpen()).as("its session is cut").isFalse();
            assertThat(shipper.retainFrom()).as("the log goes up to the map's end").isEqualTo(100);
            shipper.acked("b", 40, 40); // a late ACK of the cut session
            assertThat(shipper.retainFrom()).isEqualTo(100);
            assertThat(shipper.behind()).containsKey("b");

            shipper.connected("b", 50); // not past the map: still behind
            assertThat(shipper.behind()).containsKey("b");
            shipper.connected("b", 100); // resynced the chunks, follows the log from the map's end
            assertThat(shipper.behind()).isEmpty();
        }
    }

    @Test
    void aMemberThatOpensItsLogStreamAgainCountsAReconnectAndAFullSyncDoesNot() throws Exception {
        try (TransactionLog log = TransactionLog.open(new LogConfig().directory(dir.resolve("log")).name("p"));
             LogShipper shipper = new LogShipper(new ShipperConfig().resource("r0").log(log))) {
            assertThat(shipper.reconnects("b")).isZero();
            EmbeddedChannel sync = new EmbeddedChannel();
            shipper.opened("b", sync, false);
            shipper.closed("b", sync, true);
            EmbeddedChannel first = new EmbeddedChannel();
            shipper.opened("b", first, true);
            assertThat(shipper.reconnects("b")).as("its first log stream, after the sync").isZero();
            shipper.closed("b", first, false);
            shipper.opened("b", new EmbeddedChannel(), true);
            shipper.opened("c", new EmbeddedChannel(), true);
            assertThat(shipper.reconnects("b")).isEqualTo(1);
            assertThat(shipper.reconnects("c")).isZero();
        }
    }
}
