package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.GradCheck;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import dev.dora4j.model.BundledModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every registered PEFT method must do, run for each entry of {@link PeftMethods#all()}: gradients equal to
 * finite differences, merged forward equal to the unmerged one, unmerge restoring the weight, files that round-trip
 * under PEFT keys, and a killed training run resuming to the same tensors.
 */
class AdapterContractTest {
    private static final String Q = "model.layers.0.self_attn.q_proj", UP = "model.layers.0.mlp.up_proj",
            DOWN = "model.layers.0.mlp.down_proj";

    static Stream<PeftMethod> methods() {
        return PeftMethods.all().stream();
    }

    /** Three non-square layers (q_proj with a bias), so shared shapes and slices differ per layer. */
    private static Map<String, Linear> layers(SplittableRandom rng) {
        Map<String, Linear> layers = new LinkedHashMap<>();
        layers.put(Q, new Linear(Q, Tensor.of(random(rng, 7 * 9, 1), 7, 9), Tensor.of(random(rng, 7, 1), 7)));
        layers.put(UP, new Linear(UP, Tensor.of(random(rng, 13 * 9, 1), 13, 9), null));
        layers.put(DOWN, new Linear(DOWN, Tensor.of(random(rng, 9 * 13, 1), 9, 13), null));
        return layers;
    }

    private static PeftConfig config(PeftMethod method, float dropout) {
        return method.newConfig(AdapterSettings.of(3, 6, dropout, List.of("q_proj", "up_proj", "down_proj"), false,
                "CAUSAL_LM", "tiny"));
    }

    /** Fresh adapters moved away from their initial state, so every term of the update matters. */
    private static Map<String, Adapter> trained(PeftMethod method, Map<String, Linear> layers, float dropout, SplittableRandom rng) {
        Map<String, Adapter> adapters = AdapterInjector.inject(layers, config(method, dropout), null, 5);
        for (Adapter a : adapters.values()) {
            for (AdapterTensor t : a.tensors()) {
                if (!t.trainable()) continue;
                float[] v = t.tensor().data();
                for (int i = 0; i < v.length; i++) {
                    v[i] = t.group() == AdapterTensor.Group.MAGNITUDE ? v[i] * (float) (1 + 0.3 * (rng.nextDouble() * 2 - 1))
                            : v[i] + (float) (0.4 * (rng.nextDouble() * 2 - 1));
                }
            }
        }
        return adapters;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void gradientsMatchFiniteDifferences(PeftMethod method) {
        for (float p : new float[] {0f, 0.3f}) {
            SplittableRandom rng = new SplittableRandom(17);
            Map<String, Linear> layers = layers(rng);
            Map<String, Adapter> adapters = trained(method, layers, p, rng);
            for (String path : List.of(Q, DOWN)) {
                Linear layer = layers.get(path);
                Adapter adapter = adapters.get(path);
                if (adapter.dropout() != null) fixMask(adapter.dropout(), p);
                Tensor x = Tensor.param(random(rng, 3 * layer.inFeatures(), 1), 3, layer.inFeatures());
                List<Tensor> params = new ArrayList<>(List.of(x));
                for (AdapterTensor t : adapter.tensors()) if (t.trainable()) params.add(t.tensor());
                adapter.holdNorm(layer, true);
                GradCheck.Result res = GradCheck.standard().check(t -> layer.forward(t, x), params);
                adapter.holdNorm(layer, false);
                assertThat(res.maxRelError()).as(method.id() + " " + path + " dropout " + p + ": " + res).isLessThan(1e-3);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void mergedForwardEqualsUnmergedAndUnmergeRestoresTheWeight(PeftMethod method) {
        SplittableRandom rng = new SplittableRandom(23);
        Map<String, Linear> layers = layers(rng);
        trained(method, layers, 0f, rng);
        for (Linear layer : layers.values()) {
            Tensor x = Tensor.of(random(rng, 4 * layer.inFeatures(), 1), 4, layer.inFeatures());
            float[] w0 = layer.weight().toFloatArray();
            float[] unmerged = layer.forward(Tape.inference(), x).data();
            layer.merge();
            assertThat(layer.weight().toFloatArray()).as("merge changes the weight").isNotEqualTo(w0);
            Approx.assertClose(method.id() + " merged " + layer.path(), layer.forward(Tape.inference(), x).data(), unmerged, 1e-5);
            layer.unmerge();
            Approx.assertClose(method.id() + " unmerged weight " + layer.path(), layer.weight().toFloatArray(), w0, 1e-5);
            Approx.assertClose(method.id() + " after unmerge " + layer.path(), layer.forward(Tape.inference(), x).data(), unmerged, 1e-5);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void savedAdapterLoadsBackUnderPeftKeys(PeftMethod method, @TempDir Path tmp) {
        SplittableRandom rng = new SplittableRandom(29);
        Map<String, Linear> layers = layers(rng);
        Map<String, Adapter> adapters = trained(method, layers, 0f, rng);
        PeftConfig config = config(method, 0f);
        Path dir = tmp.resolve("adapter");
        AdapterFiles.write(dir, config, adapters);

        TreeSet<String> expected = new TreeSet<>();
        for (Adapter a : adapters.values()) for (AdapterTensor t : a.tensors()) expected.add(t.key());
        TreeSet<String> stored = new TreeSet<>();
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(AdapterFiles.WEIGHTS_FILE))) {
            for (TensorInfo t : f.tensors()) stored.add(t.name());
        }
        assertThat(stored).isEqualTo(expected);
        assertThat(stored).allMatch(k -> k.startsWith("base_model."));

        AdapterFiles.Loaded loaded = AdapterFiles.read(dir);
        assertThat(loaded.config().method()).isEqualTo(method);
        assertThat(loaded.modules()).containsOnlyKeys(Q, UP, DOWN);
        Map<String, Linear> fresh = new LinkedHashMap<>();
        layers.forEach((k, v) -> fresh.put(k, new Linear(k, v.weight().copy(), v.bias())));
        Map<String, Adapter> back = AdapterInjector.attach(fresh, loaded, null, false, 0);
        for (String path : layers.keySet()) {
            for (AdapterTensor t : back.get(path).tensors()) assertThat(t.tensor().requiresGrad()).isFalse();
            Tensor x = Tensor.of(random(rng, 2 * layers.get(path).inFeatures(), 1), 2, layers.get(path).inFeatures());
            Approx.assertClose(method.id() + " reloaded " + path, fresh.get(path).forward(Tape.inference(), x).data(),
                    layers.get(path).forward(Tape.inference(), x).data(), 1e-6);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void killedRunResumesToTheSameTensors(PeftMethod method, @TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) lines.add("{\"text\": \"Once upon a time, Tom had a red ball number " + i + ".\"}");
        Files.write(data, lines);
        TrainConfig cfg = new TrainConfig(BundledModel.checkpoint().toString(), null, data.toString(), null, method.id(), 4, 8,
                0.1f, List.of("q_proj", "down_proj"), false, 5e-3f, "adamw", 0.01f, 1, 5, 2, 2, 32, 0, "linear", 1.0f, 7,
                true, false, null, 0, 2, 0, 1f, false, false);
        Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
        TrainingRun.start(cfg, straight, null).run(m -> {}, Long.MAX_VALUE);
        TrainingRun.start(cfg, killed, null).run(m -> {}, 3);
        TrainingRun resumed = TrainingRun.resume(killed, null);
        assertThat(resumed.trainer().step()).isEqualTo(2);
        resumed.run(m -> {}, Long.MAX_VALUE);
        assertThat(Files.readAllBytes(killed.resolve(AdapterFiles.WEIGHTS_FILE)))
                .isEqualTo(Files.readAllBytes(straight.resolve(AdapterFiles.WEIGHTS_FILE)));
        assertThat(PeftConfig.read(killed).method()).isEqualTo(method);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void activationCheckpointingTrainsTheSameTensors(PeftMethod method, @TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 4; i++) lines.add("{\"text\": \"Sue had a small boat number " + i + " and sailed it.\"}");
        Files.write(data, lines);
        byte[][] written = new byte[2][];
        for (int k = 0; k < 2; k++) {
            TrainConfig cfg = new TrainConfig(BundledModel.checkpoint().toString(), null, data.toString(), null, method.id(), 4, 8,
                    0.1f, List.of("q_proj", "down_proj"), false, 5e-3f, "adamw", 0.01f, 1, 2, 2, 2, 32, 0, "linear", 1.0f, 7,
                    true, false, null, 0, 0, 0, 1f, k == 1, false);
            Path out = tmp.resolve("run" + k);
            TrainingRun.start(cfg, out, null).run(m -> {}, Long.MAX_VALUE);
            written[k] = Files.readAllBytes(out.resolve(AdapterFiles.WEIGHTS_FILE));
        }
        assertThat(written[1]).as(method.id() + ": recomputed forward passes give the same gradients").isEqualTo(written[0]);
    }

    /** Replaces the dropout's random masks by one fixed mask per size, so the function is deterministic. */
    static void fixMask(Dropout dropout, float p) {
        SplittableRandom maskRng = new SplittableRandom(99);
        float[][] cache = {new float[0]};
        dropout.source(size -> {
            if (cache[0].length != size) {
                cache[0] = new float[size];
                for (int i = 0; i < size; i++) cache[0][i] = maskRng.nextDouble() < p ? 0f : 1f / (1f - p);
            }
            return cache[0];
        });
    }

    static float[] random(SplittableRandom rng, int n, double scale) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        return d;
    }
}
