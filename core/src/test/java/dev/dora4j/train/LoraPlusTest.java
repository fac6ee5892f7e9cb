package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** LoRA+ as PEFT's create_loraplus_optimizer groups it: lora_B and every 1-D parameter at ratio × lr, the rest at lr. */
class LoraPlusTest {
    private static Map<String, Linear> layers() {
        SplittableRandom rng = new SplittableRandom(3);
        Map<String, Linear> layers = new LinkedHashMap<>();
        for (String p : List.of("model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj")) {
            float[] w = new float[6 * 8];
            for (int i = 0; i < w.length; i++) w[i] = (float) rng.nextGaussian();
            layers.put(p, new Linear(p, Tensor.of(w, 6, 8), null));
        }
        return layers;
    }

    private static Map<String, Float> scales(String method, float magnitudeRatio, float loraplus) {
        var config = PeftMethods.named(method).newConfig(AdapterSettings.of(2, 4, 0f, List.of("q_proj", "up_proj"), false,
                "CAUSAL_LM", "tiny"));
        var adapters = AdapterInjector.inject(layers(), config, null, 1);
        Map<String, Float> out = new LinkedHashMap<>();
        for (Parameter p : TrainingRun.adapterParameters(adapters, magnitudeRatio, loraplus)) out.put(p.name(), p.lrScale());
        return out;
    }

    @Test
    void upProjectionsAndVectorsLearnAtTheRatio() {
        String q = "base_model.model.model.layers.0.self_attn.q_proj";
        Map<String, Float> dora = scales("dora", 0.5f, 16f);
        assertThat(dora).containsEntry(q + ".lora_A.weight", 1f).containsEntry(q + ".lora_B.weight", 16f)
                .containsEntry(q + ".lora_magnitude_vector", 8f).hasSize(6);
        Map<String, Float> dvora = scales("dvora", 1f, 4f);
        assertThat(dvora).containsEntry(q + ".vera_lambda_b", 4f).containsEntry(q + ".vera_lambda_d", 4f)
                .containsEntry(q + ".vera_magnitude_vector", 4f).doesNotContainKey("base_model.vera_A").hasSize(6);
        assertThat(scales("lora", 1f, 1f).values()).containsOnly(1f);
    }

    @Test
    void anSgdStepMovesBByTheRatio() {
        for (float ratio : new float[] {1f, 8f}) {
            var config = PeftMethods.named("lora").newConfig(AdapterSettings.of(2, 4, 0f, List.of("q_proj"), false, "CAUSAL_LM", "t"));
            var adapters = AdapterInjector.inject(layers(), config, null, 1);
            List<Parameter> params = TrainingRun.adapterParameters(adapters, 1f, ratio);
            for (Parameter p : params) java.util.Arrays.fill(p.tensor().grad(), 1f);
            float[] a0 = params.get(0).tensor().data().clone();
            Optimizer.create("sgd", params, 0f).step(0.1f);
            assertThat(params.get(0).tensor().data()[0]).isEqualTo(a0[0] - 0.1f);
            assertThat(params.get(1).tensor().data()[0]).isEqualTo(-0.1f * ratio);
        }
    }
}
