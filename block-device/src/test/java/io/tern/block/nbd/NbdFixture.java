package io.tern.block.nbd;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.Durability;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;

/** A logged device on a file in {@code dir}, served over NBD on a free loopback port. */
final class NbdFixture implements AutoCloseable {
    final LoggedDevice device;
    final NbdExports exports = new NbdExports();
    final NbdServer server;

    NbdFixture(Path dir, String name, long size) throws Exception {
        this.device = logged(dir, name, size, Durability.SYNC);
        exports.add(new NbdExport(name, "test export " + name, device));
        this.server = NbdServer.start(new NbdServerConfig().listen(new InetSocketAddress("127.0.0.1", 0)), exports);
    }

    /** A logged device on a new file in {@code dir}. */
    static LoggedDevice logged(Path dir, String name, long size, Durability durability) throws Exception {
        return LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.create(dir.resolve(name + ".img"), size, false))
                .log(new LogConfig().directory(dir.resolve(name + "-log")).name(name))
                .checkpointFile(dir.resolve(name + ".checkpoint"))
                .checkpointInterval(Duration.ofSeconds(2))
                .durability(durability));
    }

    String uri(String name) {
        return "nbd://127.0.0.1:" + server.address().getPort() + "/" + name;
    }

    int port() {
        return server.address().getPort();
    }

    @Override
    public void close() {
        server.close();
        for (NbdExport e : exports.all()) {
            e.device().close();
        }
    }
}
