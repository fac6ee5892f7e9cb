package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.LoraCombination;
import dev.dora4j.tensor.DType;
import dev.dora4j.testing.Approx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * combine and multi-adapter merge on stories260K written as an F32 Hugging Face directory, with three DoRA adapters
 * (ranks 2, 4, 8; alphas 4, 16, 8; one rsLoRA) and three LoRA adapters (one rsLoRA) over overlapping targets. The
 * reference for every weight is {@code W + Σ wᵢ (mergeᵢ(W) − W)}, each {@code mergeᵢ} the PEFT-checked single merge.
 */
class AdapterCombineTest {
    @TempDir
    static Path tmp;
    static Path model;
    static List<Path> adapters = new ArrayList<>();
    static Map<String, float[]> base = new LinkedHashMap<>();
    static List<Map<String, float[]>> merged = new ArrayList<>();

    record Spec(boolean dora, int r, float alpha, boolean rslora, List<String> targets) {}

    static final List<Spec> SPECS = List.of(
            new Spec(true, 2, 4, false, List.of("q_proj", "v_proj")),
            new Spec(true, 4, 16, true, List.of("q_proj", "down_proj")),
            new Spec(true, 8, 8, false, List.of("v_proj", "o_proj")),
            new Spec(false, 2, 8, false, List.of("q_proj")),
            new Spec(false, 4, 4, false, List.of("up_proj", "v_proj")),
            new Spec(false, 3, 6, true, List.of("q_proj", "down_proj")));

    @BeforeAll
    static void writeModelAndAdapters() {
        LlamaModel llama = LlamaLoader.load(BundledModel.checkpoint());
        model = tmp.resolve("model");
        LlamaWriter.write(llama, model, DType.F32, Map.of());
        LlamaModel loaded = LlamaLoader.load(model);
        SplittableRandom rng = new SplittableRandom(42);
        for (int k = 0; k < SPECS.size(); k++) {
            Spec s = SPECS.get(k);
            AdapterConfig config = AdapterConfig.create(s.r(), s.alpha(), 0f, s.targets(), s.dora(), s.rslora(), "CAUSAL_LM", "stories");
            Map<String, Adapter> a = AdapterInjector.inject(loaded.linears(), config, LlamaModel.OUTPUT_HEAD, k);
            for (Adapter ad : a.values()) {
                for (AdapterTensor t : ad.tensors()) {
                    float[] v = t.tensor().data();
                    for (int i = 0; i < v.length; i++) {
                        if (t.group() == AdapterTensor.Group.UP) v[i] = (float) ((rng.nextDouble() * 2 - 1) * 0.2 / s.alpha() * s.r());
                        if (t.group() == AdapterTensor.Group.MAGNITUDE) v[i] *= (float) (0.7 + 0.6 * rng.nextDouble());
                    }
                }
            }
            Path dir = tmp.resolve("adapter" + k);
            AdapterFiles.write(dir, config, a);
            adapters.add(dir);
            loaded.linears().values().forEach(l -> l.adapter(null));
            Path m = tmp.resolve("merged" + k);
            ModelMerge.merge(model, dir, m);
            merged.add(weights(m));
        }
        base.putAll(weights(model));
    }

    static Map<String, float[]> weights(Path dir) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (ShardedSafetensors st = ShardedSafetensors.open(dir)) {
            for (String n : st.names()) if (n.contains(".layers.") && n.endsWith("proj.weight")) out.put(n, st.readFloats(n));
        }
        return out;
    }

    /** W + Σ wᵢ (mergeᵢ(W) − W), in double, rounded once. */
    static Map<String, float[]> target(double[] w) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (var e : base.entrySet()) {
            float[] w0 = e.getValue(), t = new float[w0.length];
            for (int i = 0; i < t.length; i++) {
                double v = w0[i];
                for (int k = 0; k < w.length; k++) v += w[k] * ((double) merged.get(k).get(e.getKey())[i] - w0[i]);
                t[i] = (float) v;
            }
            out.put(e.getKey(), t);
        }
        return out;
    }

    static List<AdapterCombine.Weighted> weighted(double[] w) {
        List<AdapterCombine.Weighted> in = new ArrayList<>();
        for (int k = 0; k < w.length; k++) in.add(new AdapterCombine.Weighted(adapters.get(k), w[k]));
        return in;
    }

    @Test
    void catMergesToTheWeightedSumOfTheAdaptersChanges() {
        for (double[] w : List.of(new double[] {0.3, 0.2, 0.1, 0.15, 0.15, 0.1}, new double[] {1.0, -0.5, 0.7, 1.2, 0.4, -0.3})) {
            Path out = tmp.resolve("cat" + w[1]);
            AdapterCombine.Summary s = AdapterCombine.combine(weighted(w), LoraCombination.Kind.CAT, null, model, out);
            assertThat(s.rank()).isEqualTo(2 + 4 + 8 + 2 + 4 + 3);
            assertThat(s.dora()).isTrue();
            assertThat(s.relativeErrors()).hasSize(5 * 5).allSatisfy((k, v) -> assertThat(v).as(k).isLessThan(1e-5));
            Path m = tmp.resolve("catmerged" + w[1]);
            ModelMerge.merge(model, out, m);
            Map<String, float[]> got = weights(m), want = target(w);
            for (var e : want.entrySet()) Approx.assertClose("cat " + e.getKey(), got.get(e.getKey()), e.getValue(), 1e-5);
            var config = (AdapterConfig) AdapterFiles.read(out).config();
            assertThat(config.targetModules()).containsExactlyInAnyOrder("q_proj", "v_proj", "down_proj", "o_proj", "up_proj");
            assertThat(config.scalingFor("model.layers.0.self_attn.q_proj")).isEqualTo(1f);

            // the combined adapter, unmerged, computes what the merged model does
            LlamaModel withAdapter = LlamaLoader.load(model);
            AdapterInjector.attach(withAdapter.linears(), AdapterFiles.read(out), LlamaModel.OUTPUT_HEAD, false, 0);
            int[] ids = {1, 45, 300, 7, 99, 12, 256, 3};
            Approx.assertClose("logits", withAdapter.logits(ids, 1, ids.length), LlamaLoader.load(m).logits(ids, 1, ids.length), 1e-5);
        }
    }

    @Test
    void mergingSeveralAdaptersTakesEveryNormFromTheBaseWeight() {
        Path m = tmp.resolve("multi");
        ModelMerge.Summary s = ModelMerge.merge(model, adapters, m);
        assertThat(s.dora()).isTrue();
        Map<String, float[]> got = weights(m), want = target(new double[] {1, 1, 1, 1, 1, 1});
        for (var e : want.entrySet()) Approx.assertClose("merge " + e.getKey(), got.get(e.getKey()), e.getValue(), 1e-5);
        // merging one after the other (PEFT's #3608) takes the second DoRA norm from the merged weight: not the same
        Path first = tmp.resolve("first"), twice = tmp.resolve("twice");
        ModelMerge.merge(model, adapters.get(0), first);
        ModelMerge.merge(first, adapters.get(1), twice);
        String q = "model.layers.0.self_attn.q_proj.weight";
        ModelMerge.merge(model, List.of(adapters.get(0), adapters.get(1)), tmp.resolve("pair"));
        float[] sequential = weights(twice).get(q), both = weights(tmp.resolve("pair")).get(q);
        double diff = 0, norm = 0;
        for (int i = 0; i < both.length; i++) {
            diff += Math.pow(sequential[i] - both[i], 2);
            norm += Math.pow(both[i] - base.get(q)[i], 2);
        }
        assertThat(Math.sqrt(diff / norm)).as("sequential DoRA merges differ from the joint merge").isGreaterThan(1e-3);
    }

    @Test
    void svdErrorFallsWithTheRankAndVanishesAtFullRank() {
        double[] w = {0.5, 0.3, 0.2};
        List<AdapterCombine.Weighted> dora = weighted(w).subList(0, 3);
        double previous = Double.MAX_VALUE;
        StringBuilder report = new StringBuilder();
        for (int rank : new int[] {1, 2, 4, 8, 16, 64}) {
            AdapterCombine.Summary s = AdapterCombine.combine(dora, LoraCombination.Kind.SVD, rank, model, tmp.resolve("svd" + rank));
            double mean = s.relativeErrors().values().stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double worst = s.relativeErrors().values().stream().mapToDouble(Double::doubleValue).max().orElseThrow();
            report.append(String.format("rank %d: mean %.3g, worst %.3g%n", rank, mean, worst));
            assertThat(mean).as("rank " + rank).isLessThanOrEqualTo(previous * (1 + 1e-9) + 1e-12);
            previous = mean;
            if (rank == 64) assertThat(worst).as("full rank is exact").isLessThan(1e-5);
            if (rank == 1) assertThat(worst).as("rank 1 cannot hold rank 14").isGreaterThan(1e-2);
        }
        System.out.print("svd combination of 3 DoRA adapters, relative error of the merged weight's change:\n" + report);
    }

    @Test
    void linearFollowsPeftForLoraAndRefusesDora() {
        Path out = tmp.resolve("linear");
        // PEFT's linear over one LoRA adapter given twice with weight 1/4: (2·√(1/4))² = 1 of its update, exactly
        List<AdapterCombine.Weighted> in = List.of(new AdapterCombine.Weighted(adapters.get(3), 0.25),
                new AdapterCombine.Weighted(adapters.get(3), 0.25));
        AdapterCombine.combine(in, LoraCombination.Kind.LINEAR, null, null, out);
        ModelMerge.merge(model, out, tmp.resolve("linearmerged"));
        Map<String, float[]> got = weights(tmp.resolve("linearmerged"));
        String q = "model.layers.1.self_attn.q_proj.weight";
        Approx.assertClose("linear", got.get(q), merged.get(3).get(q), 1e-5);
        assertThatThrownBy(() -> AdapterCombine.combine(weighted(new double[] {0.5, 0.5}), LoraCombination.Kind.LINEAR, null, model,
                tmp.resolve("lineardora"))).isInstanceOf(DoraException.class).hasMessageContaining("not exact for DoRA");
        assertThatThrownBy(() -> AdapterCombine.combine(weighted(new double[] {0.5, 0.5}), LoraCombination.Kind.CAT, null, null,
                tmp.resolve("nomodel"))).isInstanceOf(DoraException.class).hasMessageContaining("--model is required");
    }
}
