package io.tern.replication.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

class BlockDigestTest {
    /** Bytes 0, 1, ..., 255, 0, 1, ... : 4 KiB. */
    private static byte[] pattern() {
        byte[] b = new byte[4096];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    @Test
    void digestsMatchTheReferenceTools() {
        // References: `xxhsum -H2` (xxHash 0.8) and `sha256sum` of the same 4 KiB.
        assertThat(HexFormat.of().formatHex(BlockDigest.XXH128.digest(ByteBuffer.wrap(pattern()))))
                .isEqualTo("03916578969f7a66eb4b7c3707879151");
        assertThat(HexFormat.of().formatHex(BlockDigest.SHA256.digest(ByteBuffer.wrap(pattern()))))
                .isEqualTo("c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193");
    }

    @Test
    void aSliceOfADirectBufferDigestsLikeTheSameBytesOnTheHeapAndIsNotConsumed() {
        ByteBuffer direct = ByteBuffer.allocateDirect(3 * 4096);
        direct.position(4096).put(pattern()).clear();
        ByteBuffer slice = direct.slice(4096, 4096);
        for (BlockDigest d : BlockDigest.values()) {
            byte[] out = new byte[d.length() + 3];
            d.digest(slice, out, 3);
            assertThat(java.util.Arrays.copyOfRange(out, 3, out.length)).isEqualTo(d.digest(ByteBuffer.wrap(pattern())));
            assertThat(slice.remaining()).isEqualTo(4096);
        }
        byte[] changed = pattern();
        changed[4000] ^= 1;
        assertThat(BlockDigest.XXH128.digest(ByteBuffer.wrap(changed)))
                .isNotEqualTo(BlockDigest.XXH128.digest(ByteBuffer.wrap(pattern())));
    }

    @Test
    void namesAndWireNumbers() {
        assertThat(BlockDigest.parse("XXH128")).isEqualTo(BlockDigest.XXH128);
        assertThat(BlockDigest.parse("sha256")).isEqualTo(BlockDigest.SHA256);
        assertThat(BlockDigest.ofId(BlockDigest.SHA256.id())).isEqualTo(BlockDigest.SHA256);
        assertThatThrownBy(() -> BlockDigest.parse("md5")).hasMessageContaining("xxh128 or sha256");
        assertThatThrownBy(() -> BlockDigest.ofId(9)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("unknown block digest algorithm 9");
    }
}
