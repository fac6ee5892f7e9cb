package dev.dora4j.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.nn.Linear;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class BaseWeightsTest {
    @Test
    void llama2cWeightsAreReadOneAtATimeAsTheLoaderReadsThem() {
        Path bin = BundledModel.checkpoint();
        LlamaModel model = LlamaLoader.load(bin);
        try (BaseWeights base = BaseWeights.open(bin)) {
            assertThat(base.layers()).isEqualTo(model.layers().size());
            for (Linear linear : model.linears().values()) {
                Matrix w = base.read(linear.path() + ".weight");
                assertThat(w.rows()).isEqualTo(linear.outFeatures());
                assertThat(w.cols()).isEqualTo(linear.inFeatures());
                assertThat(w.data()).as(linear.path()).containsExactly(linear.weight().data());
            }
        }
    }

    @Test
    void modulesResolveByShortNameOrSuffixInEveryLayer() {
        try (BaseWeights base = BaseWeights.open(WeightDecompositionTest.BASE)) {
            assertThat(base.layers()).isEqualTo(2);
            assertThat(base.weightNames("v_proj"))
                    .containsExactly("model.layers.0.self_attn.v_proj.weight", "model.layers.1.self_attn.v_proj.weight");
            assertThat(base.weightNames("mlp.down_proj")).hasSize(2);
            assertThat(base.read("model.layers.1.self_attn.v_proj.weight").shape()).containsExactly(16, 32);
            assertThatThrownBy(() -> base.read("model.layers.0.input_layernorm.weight"))
                    .isInstanceOf(DoraException.class).hasMessageContaining("not a 2-D weight");
            assertThatThrownBy(() -> base.weightNames("proj"))
                    .isInstanceOf(DoraException.class).hasMessageContaining("no module 'proj'");
        }
    }

    @Test
    void aBaseThatIsNeitherModelNorCheckpointIsRefused() {
        Path notModel = WeightDecompositionTest.BASE.resolve("config.json");
        assertThatThrownBy(() -> BaseWeights.open(notModel))
                .isInstanceOf(DoraException.class).hasMessageContaining("config.json").hasMessageContaining("llama2.c checkpoint");
    }
}
