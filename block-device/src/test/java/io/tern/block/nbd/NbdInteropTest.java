package io.tern.block.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.tern.block.file.FileBlockDevice;
import io.tern.block.logged.LoggedDevice;
import io.tern.block.logged.LoggedDeviceConfig;
import io.tern.log.LogConfig;
import io.tern.testing.ExternalTool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The NBD server as real clients see it: nbdinfo, qemu-io, qemu-img, nbdcopy, fio, e2fsprogs. */
class NbdInteropTest {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private NbdFixture nbd;

    @BeforeEach
    void start() throws Exception {
        nbd = new NbdFixture(dir, "res", SIZE);
    }

    @AfterEach
    void stop() {
        nbd.close();
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*([^,\\n}]+)").matcher(json);
        assertThat(m.find()).as("nbdinfo reports %s in %s", name, json).isTrue();
        return m.group(1).trim();
    }

    @Test
    void nbdinfoSeesExactlyWhatIsAdvertised() throws Exception {
        String json = ExternalTool.run(dir, 30, "nbdinfo", "--json", nbd.uri("res")).ok().stdout();
        assertThat(field(json, "export-size")).isEqualTo(Long.toString(SIZE));
        assertThat(field(json, "is_read_only")).isEqualTo("false");
        assertThat(field(json, "can_flush")).isEqualTo("true");
        assertThat(field(json, "can_fua")).isEqualTo("true");
        assertThat(field(json, "can_trim")).isEqualTo("true");
        assertThat(field(json, "can_zero")).isEqualTo("true");
        assertThat(field(json, "can_multi_conn")).isEqualTo("true");
        assertThat(field(json, "block_size_maximum")).isEqualTo(Integer.toString(32 << 20));

        // A read-only export (as a secondary's will be).
        FileBlockDevice.create(dir.resolve("ro.img"), 1 << 20, false).close();
        LoggedDevice ro = LoggedDevice.open(new LoggedDeviceConfig()
                .backing(FileBlockDevice.open(dir.resolve("ro.img"), true))
                .log(new LogConfig().directory(dir.resolve("ro-log")).name("ro"))
                .checkpointFile(dir.resolve("ro.checkpoint")));
        nbd.exports.add(new NbdExport("ro", "read-only", ro));
        String roJson = ExternalTool.run(dir, 30, "nbdinfo", "--json", nbd.uri("ro")).ok().stdout();
        assertThat(field(roJson, "export-size")).isEqualTo(Long.toString(1 << 20));
        assertThat(field(roJson, "is_read_only")).isEqualTo("true");
        assertThat(field(roJson, "can_trim")).isEqualTo("false");
        assertThat(field(roJson, "can_zero")).isEqualTo("false");

        String list = ExternalTool.run(dir, 30, "nbdinfo", "--list", "nbd://127.0.0.1:" + nbd.port()).ok().stdout();
        assertThat(list).contains("export=\"res\"").contains("export=\"ro\"");

        ExternalTool.Result unknown = ExternalTool.run(dir, 30, "nbdinfo", nbd.uri("no-such-export"));
        assertThat(unknown.exitCode()).isNotZero();
    }

    @Test
    void qemuIoWritesAndVerifiesPatternsAtManyOffsetsAndSizes() throws Exception {
        Random random = new Random(io.tern.testing.Seeds.seed("qemu-io"));
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw", nbd.uri("res")));
        List<long[]> written = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            int size = 512 * (1 + random.nextInt(2048));             // 512 B .. 1 MiB
            long offset = 512L * random.nextInt((int) ((SIZE - size) / 512));
            if (overlaps(written, offset, size)) {
                continue;
            }
            int pattern = 1 + random.nextInt(254);
            written.add(new long[] {offset, size, pattern});
            cmd.addAll(List.of("-c", "write -P " + pattern + " " + offset + " " + size));
        }
        cmd.addAll(List.of("-c", "flush"));
        for (long[] w : written) {
            cmd.addAll(List.of("-c", "read -P " + w[2] + " " + w[0] + " " + w[1]));
        }
        long[] z = written.get(0);
        long[] d = written.get(1);
        cmd.addAll(List.of("-c", "write -z " + z[0] + " " + z[1], "-c", "read -P 0 " + z[0] + " " + z[1]));
        // Discard becomes a ZERO record: the range reads back as zeros, here and on every secondary.
        cmd.addAll(List.of("-c", "discard " + d[0] + " " + d[1], "-c", "read -P 0 " + d[0] + " " + d[1]));
        cmd.addAll(List.of("-c", "write -f -P 7 " + (SIZE - 4096) + " 4096", "-c", "read -P 7 " + (SIZE - 4096) + " 4096"));
        ExternalTool.Result r = ExternalTool.run(dir, 120, cmd).ok();
        assertThat(r.stdout() + r.stderr()).doesNotContainIgnoringCase("fail").doesNotContainIgnoringCase("error");
        assertThat(r.stdout()).contains("wrote", "read");

        // Past the end: refused, and the server keeps serving.
        ExternalTool.Result past = ExternalTool.run(dir, 60, "qemu-io", "-f", "raw", nbd.uri("res"),
                "-c", "read " + (SIZE - 512) + " 4096");
        assertThat(past.stdout() + past.stderr()).containsIgnoringCase("error");
        ExternalTool.run(dir, 60, "qemu-io", "-f", "raw", nbd.uri("res"), "-c", "read -P 7 " + (SIZE - 4096) + " 4096").ok();
    }

    private static boolean overlaps(List<long[]> written, long offset, long size) {
        for (long[] w : written) {
            if (offset < w[0] + w[1] && w[0] < offset + size) {
                return true;
            }
        }
        return false;
    }

    @Test
    void nbdcopyRoundTripsARandomImage() throws Exception {
        byte[] image = new byte[(int) SIZE];
        new Random(io.tern.testing.Seeds.seed("nbdcopy")).nextBytes(image);
        Path in = dir.resolve("in.img");
        Files.write(in, image);
        ExternalTool.run(dir, 120, "nbdcopy", in.toString(), nbd.uri("res")).ok();
        Path out = dir.resolve("out.img");
        ExternalTool.run(dir, 120, "nbdcopy", nbd.uri("res"), out.toString()).ok();
        assertThat(sha256(out)).isEqualTo(sha256(in));
    }

    @Test
    void anExt4FileSystemSurvivesTheRoundTrip() throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        byte[] content = new byte[3 << 20];
        new Random(io.tern.testing.Seeds.seed("ext4")).nextBytes(content);
        Files.write(Files.createDirectories(tree.resolve("sub")).resolve("blob.bin"), content);
        Files.writeString(tree.resolve("hello.txt"), "tern\n");
        Path fs = dir.resolve("fs.img");
        ExternalTool.run(dir, 60, "mkfs.ext4", "-q", "-F", "-d", dir.resolve("tree").toString(), fs.toString(), "32M").ok();
        ExternalTool.run(dir, 120, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", fs.toString(), nbd.uri("res")).ok();
        Path back = dir.resolve("back.img");
        ExternalTool.run(dir, 120, "nbdcopy", nbd.uri("res"), back.toString()).ok();
        ExternalTool.run(dir, 60, "e2fsck", "-fn", back.toString()).ok();
        Path blob = dir.resolve("blob.out");
        ExternalTool.run(dir, 60, "debugfs", "-R", "dump /sub/blob.bin " + blob, back.toString()).ok();
        assertThat(Files.readAllBytes(blob)).isEqualTo(content);
        String hello = ExternalTool.run(dir, 60, "debugfs", "-R", "cat /hello.txt", back.toString()).ok().stdout();
        assertThat(hello).isEqualTo("tern\n");
    }

    @Test
    void fioWithCrc32cVerificationFindsNoError() throws Exception {
        // 256 MiB in flush mode (writes replied once logged, FLUSH/FUA sync) ...
        long big = 256L << 20;
        nbd.exports.add(new NbdExport("big", "flush mode", NbdFixture.logged(dir, "big", big,
                io.tern.block.logged.Durability.FLUSH)));
        ExternalTool.Result r = ExternalTool.run(dir, 300, "fio", "--name=verify", "--ioengine=nbd", "--uri=" + nbd.uri("big"),
                "--rw=randwrite", "--bs=4k", "--size=" + big, "--iodepth=16", "--verify=crc32c",
                "--verify_fatal=1", "--do_verify=1", "--fsync=64", "--output-format=terse", "--randseed=7").ok();
        assertThat(r.stdout() + r.stderr()).doesNotContainIgnoringCase("verify: bad");
        // ... and sync mode: every write durable before its reply.
        // Written again with a different block size and random data, verified again.
        ExternalTool.run(dir, 300, "fio", "--name=verify2", "--ioengine=nbd", "--uri=" + nbd.uri("res"),
                "--rw=randrw", "--bs=64k", "--size=" + SIZE, "--iodepth=8", "--verify=crc32c",
                "--verify_fatal=1", "--randseed=8").ok();
    }

    private static String sha256(Path p) throws Exception {
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }
}
