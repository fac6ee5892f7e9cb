package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethod;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.DType;
import dev.dora4j.testing.Approx;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** merge of an adapter of every registered method into stories260K as an HF directory: the merged model's logits are the adapted model's. */
class MethodMergeTest {
    static Stream<PeftMethod> methods() {
        return PeftMethods.all().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void mergedModelComputesWhatTheAdaptedModelDoes(PeftMethod method, @TempDir Path tmp) {
        Path model = tmp.resolve("model"), adapter = tmp.resolve("adapter"), merged = tmp.resolve("merged");
        LlamaWriter.write(LlamaLoader.load(BundledModel.checkpoint()), model, DType.F32, Map.of());
        LlamaModel adapted = LlamaLoader.load(model);
        PeftConfig config = method.newConfig(AdapterSettings.of(8, 16, 0f, List.of("q_proj", "v_proj", "down_proj"), false,
                "CAUSAL_LM", "stories"));
        Map<String, Adapter> adapters = AdapterInjector.inject(adapted.linears(), config, LlamaModel.OUTPUT_HEAD, 3);
        SplittableRandom rng = new SplittableRandom(5);
        for (Adapter a : adapters.values()) {
            for (AdapterTensor t : a.tensors()) {
                if (!t.trainable()) continue;
                float[] v = t.tensor().data();
                for (int i = 0; i < v.length; i++) {
                    v[i] = t.group() == AdapterTensor.Group.MAGNITUDE ? v[i] * (float) (0.8 + 0.4 * rng.nextDouble())
                            : v[i] + (float) ((rng.nextDouble() * 2 - 1) * 0.1);
                }
            }
        }
        AdapterFiles.write(adapter, config, adapters);
        ModelMerge.Summary s = ModelMerge.merge(model, adapter, merged);
        assertThat(s.mergedWeights()).isEqualTo(3 * 5);
        int[] ids = {1, 17, 260, 3, 45, 99, 7, 300};
        float[] want = adapted.logits(ids, 1, ids.length);
        float[] got = LlamaLoader.load(merged).logits(ids, 1, ids.length);
        assertThat(got).isNotEqualTo(LlamaLoader.load(model).logits(ids, 1, ids.length));
        Approx.assertClose(method.id() + " logits", got, want, 1e-5);
    }
}
