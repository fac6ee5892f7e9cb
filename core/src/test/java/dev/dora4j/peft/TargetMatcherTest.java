package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TargetMatcherTest {
    private static final List<String> PATHS = List.of(
            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.0.mlp.down_proj",
            "model.layers.1.self_attn.q_proj", "model.layers.11.self_attn.q_proj", "lm_head");

    private static AdapterConfig config(List<String> targets, String regex) {
        return new AdapterConfig(8, 16, 0, targets, regex, true, false, null, null, "none", null, "CAUSAL_LM", null, null);
    }

    @Test
    void listMatchesExactNameOrDotSuffix() {
        TargetMatcher m = TargetMatcher.of(config(List.of("q_proj", "model.layers.0.mlp.down_proj"), null));
        assertThat(PATHS.stream().filter(p -> m.matches(p, false)))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj",
                        "model.layers.1.self_attn.q_proj", "model.layers.11.self_attn.q_proj");
        TargetMatcher partial = TargetMatcher.of(config(List.of("proj"), null));
        assertThat(PATHS.stream().filter(p -> partial.matches(p, false))).isEmpty();
    }

    @Test
    void stringIsAFullRegex() {
        TargetMatcher m = TargetMatcher.of(config(List.of(), ".*layers\\.1\\..*q_proj"));
        assertThat(PATHS.stream().filter(p -> m.matches(p, false))).containsExactly("model.layers.1.self_attn.q_proj");
        TargetMatcher prefixOnly = TargetMatcher.of(config(List.of(), "model"));
        assertThat(PATHS.stream().filter(p -> prefixOnly.matches(p, false))).isEmpty();
    }

    @Test
    void allLinearSkipsTheOutputHead() {
        TargetMatcher m = TargetMatcher.of(config(List.of(), "all-linear"));
        assertThat(m.matches("lm_head", true)).isFalse();
        assertThat(m.matches("model.layers.0.mlp.down_proj", false)).isTrue();
    }

    @Test
    void rankAndAlphaPatternsFollowPeft() {
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ranks.put("model.layers.1.self_attn.q_proj", 2);
        ranks.put("down_proj", 4);
        Map<String, Float> alphas = Map.of("v_proj", 64f);
        AdapterConfig c = new AdapterConfig(8, 16, 0, List.of("q_proj", "v_proj", "down_proj"), null, false, true,
                ranks, alphas, "none", null, null, null, null);
        assertThat(c.rankFor("model.layers.1.self_attn.q_proj")).isEqualTo(2);
        assertThat(c.rankFor("model.layers.11.self_attn.q_proj")).isEqualTo(8);
        assertThat(c.rankFor("model.layers.0.mlp.down_proj")).isEqualTo(4);
        assertThat(c.alphaFor("model.layers.0.self_attn.v_proj")).isEqualTo(64f);
        assertThat(c.scalingFor("model.layers.0.self_attn.v_proj")).isEqualTo((float) (64 / Math.sqrt(8)));
        assertThat(c.scalingFor("model.layers.0.mlp.down_proj")).isEqualTo((float) (16 / Math.sqrt(4)));
    }

    @Test
    void targetsThatMatchNothingAreAnError() {
        assertThatThrownBy(() -> AdapterInjector.targetPaths(config(List.of("c_attn"), null), PATHS, "lm_head", "cfg.json"))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("cfg.json")
                .hasMessageContaining("c_attn");
    }
}
