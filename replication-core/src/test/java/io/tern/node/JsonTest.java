package io.tern.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Status documents as operators' scripts read them: indented, "key": value, numbers back as Long. */
class JsonTest {
    @Test
    void writesIndentedKeyValuePairsAndReadsThemBackInOrder() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("phase", "copying");
        m.put("lsn", 42L);
        m.put("rate", 1.5);
        m.put("paused", false);
        m.put("peers", List.of(Map.of("node", "b \"x\"\n")));
        m.put("empty", List.of());
        String text = Json.write(m);
        assertThat(text).contains("\"phase\": \"copying\"").contains("\n  \"lsn\": 42,\n").endsWith("}\n");
        Object back = Json.parse(text);
        assertThat(back).isEqualTo(m);
        assertThat(List.copyOf(((Map<?, ?>) back).keySet())).isEqualTo(List.of("phase", "lsn", "rate", "paused", "peers", "empty"));
        assertThat(((Map<?, ?>) Json.parse("{\"n\": 7}")).get("n")).isInstanceOf(Long.class);
    }

    @Test
    void malformedJsonIsRefused() {
        assertThatThrownBy(() -> Json.parse("{\"a\": }")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.parse("{} trailing")).isInstanceOf(IllegalArgumentException.class);
    }
}
