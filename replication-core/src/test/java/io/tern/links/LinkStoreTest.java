package io.tern.links;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinkStoreTest {
    @TempDir
    Path dir;

    @Test
    void linksAreSymlinksThatSurviveAReopen() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        a.put("primary", "a");
        a.put("size", "1073741824");
        a.put("replay-a", "1,42");
        a.put("replay-a", "1,43");
        a.delete("size");
        assertThat(Files.readSymbolicLink(dir.resolve("a/replay-a")).toString()).isEqualTo("1,43@4.a");
        assertThat(Files.readSymbolicLink(dir.resolve("a/size")).toString()).isEqualTo("(deleted)@5.a");

        LinkStore again = LinkStore.open(dir.resolve("a"), "a");
        assertThat(again.get("primary")).contains("a");
        assertThat(again.get("replay-a")).contains("1,43");
        assertThat(again.get("size")).isEmpty();
        assertThat(again.link("size")).hasValueSatisfying(l -> assertThat(l.deleted()).isTrue());
        assertThat(again.clock()).isEqualTo(5);
        assertThat(again.put("member-b", "joined").lamport()).isEqualTo(6);
    }

    @Test
    void aPeerCannotFloodTheStorePastItsBound() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        for (int i = 0; i < LinkStore.MAX_LINKS; i++) {
            a.merge(new Link("flood-" + i + "-b", "x", 1, "b", false));
        }
        assertThatThrownBy(() -> a.merge(new Link("flood-more-b", "x", 1, "b", false)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("past the " + LinkStore.MAX_LINKS);
        assertThat(a.get("flood-more-b")).isEmpty();
        assertThat(a.merge(new Link("flood-0-b", "y", 2, "b", false))).as("an existing link still moves").isTrue();
    }

    @Test
    void aNewerLinkFromAnotherNodeWinsAndAnOlderOneIsIgnored() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        a.put("primary", "a"); // lamport 1
        assertThat(a.merge(new Link("primary", "b", 5, "b", false))).isTrue();
        assertThat(a.get("primary")).contains("b");
        assertThat(a.clock()).isEqualTo(5);
        assertThat(a.merge(new Link("primary", "c", 3, "c", false))).as("older").isFalse();
        assertThat(a.get("primary")).contains("b");
        // Same time: the larger node name wins, on every node alike.
        assertThat(a.merge(new Link("primary", "c", 5, "c", false))).isTrue();
        assertThat(a.merge(new Link("primary", "a", 5, "a", false))).isFalse();
        // A tombstone is a newer value like any other.
        assertThat(a.merge(new Link("primary", null, 6, "b", true))).isTrue();
        assertThat(a.get("primary")).isEmpty();
        // The next local write is after everything seen.
        assertThat(a.put("primary", "a").lamport()).isEqualTo(7);
    }

    @Test
    void changesSinceListsWhatAPeerIsMissingIncludingOlderLinksRelayedFromAThirdNode() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        a.put("x", "1");
        a.put("y", "2");
        LinkStore.Changes all = a.changesSince(0);
        assertThat(all.links()).extracting(Link::name).containsExactly("x", "y");
        a.put("x", "3");
        LinkStore.Changes next = a.changesSince(all.upTo());
        assertThat(next.links()).extracting(Link::value).containsExactly("3");
        assertThat(a.changesSince(next.upTo()).links()).isEmpty();
        // b's link was written at Lamport time 2, before a's clock (3) moved on: a has sent
        // everything up to time 3 to c, and must still relay it.
        assertThat(a.merge(new Link("replay-b", "1,7", 2, "b", false))).isTrue();
        assertThat(a.changesSince(next.upTo()).links()).extracting(Link::name).containsExactly("replay-b");
        // A link not taken (older than what a holds) is no change.
        LinkStore.Changes after = a.changesSince(0);
        assertThat(a.merge(new Link("x", "0", 1, "b", false))).isFalse();
        assertThat(a.changesSince(after.upTo()).links()).isEmpty();
        // After a restart the count starts over and a session sends everything again.
        assertThat(LinkStore.open(dir.resolve("a"), "a").changesSince(0).links()).hasSize(3);
        assertThat(a.all()).extracting(Link::value).containsExactly("1,7", "3", "2");
    }

    @Test
    void aTempLinkLeftByACrashIsIgnoredAndRemoved() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        a.put("replay-a", "1,10");
        Files.createSymbolicLink(dir.resolve("a/.tmp-replay-a-1234"), Path.of("1,11@2.a"));
        LinkStore again = LinkStore.open(dir.resolve("a"), "a");
        assertThat(again.get("replay-a")).contains("1,10");
        assertThat(Files.exists(dir.resolve("a/.tmp-replay-a-1234"), java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void badNamesAndValuesAreRefusedAndChangeNothing() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "a");
        assertThatThrownBy(() -> a.put("../escape", "x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.put(".hidden", "x")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.put("ok", "a/b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.put("ok", "")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.put("ok", Link.DELETED)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LinkStore.open(dir.resolve("b"), "bad@node")).isInstanceOf(IllegalArgumentException.class);
        assertThat(a.all()).isEmpty();
        assertThat(a.clock()).isZero();
    }

    @Test
    void valuesMayHoldAtSignsAndNodesDots() throws Exception {
        LinkStore a = LinkStore.open(dir.resolve("a"), "node.site-1");
        a.put("peer", "user@host:7800");
        LinkStore again = LinkStore.open(dir.resolve("a"), "node.site-1");
        assertThat(again.link("peer")).hasValueSatisfying(l -> {
            assertThat(l.value()).isEqualTo("user@host:7800");
            assertThat(l.node()).isEqualTo("node.site-1");
        });
    }
}
