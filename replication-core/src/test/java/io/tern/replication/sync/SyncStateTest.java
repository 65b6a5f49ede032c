package io.tern.replication.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A secondary's sync state fails closed: lost means a sync still to run, damaged means an error. */
class SyncStateTest {
    @TempDir
    Path dir;

    @Test
    void aMissingStateIsASyncToRunNotAFinishedOne() throws IOException {
        assertThat(SyncState.load(dir.resolve("sync.properties"))).isEqualTo(SyncState.NEW);
    }

    @Test
    void aStoredStateRoundTripsAndADamagedOneIsRefused() throws IOException {
        Path file = dir.resolve("sync.properties");
        SyncState s = new SyncState(SyncState.Phase.REPLAYING, 10, 1 << 20, 42);
        s.store(file);
        assertThat(SyncState.load(file)).isEqualTo(s);
        Files.writeString(file, "phase=copying\nstart=x\n");
        assertThatThrownBy(() -> SyncState.load(file)).isInstanceOf(IOException.class).hasMessageContaining("damaged");
    }
}
