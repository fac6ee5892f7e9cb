package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.autograd.GradCheck;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.nn.Embedding;
import dev.dora4j.peft.Adapter;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.AdapterTensor;
import dev.dora4j.peft.LoraEmbedding;
import dev.dora4j.peft.ModuleAdapter;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LoRA and DoRA on {@code embed_tokens} inside a Llama model, unmerged: the same logits as the model with the adapter
 * merged (whose table tools/gen_embedding_fixtures.py checks against PEFT's), gradients through the whole model by
 * finite differences, PEFT's keys on save and load, and a training run that resumes to the same tensors.
 */
class EmbeddingAdapterModelTest {
    private static final int[] IDS = {3, 17, 5, 3, 30, 11, 0, 8, 21, 3, 9, 14};

    private static Path model() throws Exception {
        return ModelMergeTest.fixtures().resolve("model");
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void unmergedEmbeddingAdapterGivesTheMergedModelsLogits(String method, @TempDir Path tmp) throws Exception {
        Path adapter = EmbeddingMergeTest.fixtures().resolve("adapter_" + method);
        LlamaModel base = LlamaLoader.load(model());
        float[] baseLogits = base.logits(IDS, 2, 6);
        Map<String, ModuleAdapter> attached = AdapterInjector.attach(base.linears(), base.embeddings(), AdapterFiles.read(adapter),
                base.outputHead(), false, 0);
        assertThat(attached).containsOnlyKeys(LlamaModel.EMBED_TOKENS);
        assertThat(attached.get(LlamaModel.EMBED_TOKENS).method().id()).isEqualTo(method);
        float[] unmerged = base.logits(IDS, 2, 6);
        assertThat(unmerged).as("the adapter changes the output").isNotEqualTo(baseLogits);

        ModelMerge.merge(model(), adapter, tmp.resolve("merged"));
        LlamaModel merged = LlamaLoader.load(tmp.resolve("merged"));
        Approx.assertClose(method + " unmerged vs merged logits", unmerged, merged.logits(IDS, 2, 6), 1e-5);

        KvCache cache = base.newCache(16);
        float[] decoded = base.decode(Arrays.copyOf(IDS, 6), cache);
        Approx.assertClose(method + " decoding with a KV cache", decoded, Arrays.copyOfRange(unmerged, 5 * 32, 6 * 32), 1e-5);

        Embedding table = base.embeddings().get(LlamaModel.EMBED_TOKENS);
        float[] before = table.table().toFloatArray();
        table.merge();
        Approx.assertClose(method + " merged in place", base.logits(IDS, 2, 6), unmerged, 1e-5);
        table.unmerge();
        Approx.assertClose(method + " table after unmerge", table.table().toFloatArray(), before, 1e-5);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void freshEmbeddingAdaptersStartAtTheBaseModel(String method) throws Exception {
        LlamaModel model = LlamaLoader.load(model());
        float[] base = model.logits(IDS, 1, 12);
        Map<String, ModuleAdapter> adapters = AdapterInjector.inject(model.linears(), model.embeddings(),
                config(method, List.of("embed_tokens", "q_proj")), model.outputHead(), 5);
        assertThat(adapters.keySet()).first().isEqualTo(LlamaModel.EMBED_TOKENS);
        assertThat(adapters).containsKey("model.layers.1.self_attn.q_proj").hasSize(3);
        LoraEmbedding e = (LoraEmbedding) adapters.get(LlamaModel.EMBED_TOKENS);
        assertThat(e.loraA().data()).as("lora_embedding_A starts at zero").containsOnly(0f);
        assertThat(e.loraB().data()).as("lora_embedding_B starts normal").doesNotContain(0f);
        Approx.assertClose(method + " fresh adapters", model.logits(IDS, 1, 12), base, 1e-6);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void gradientsThroughTheModelMatchFiniteDifferences(String method) throws Exception {
        // the embedding's tensors, with an adapted q_proj downstream (its own gradients: AdapterContractTest)
        LlamaModel model = LlamaLoader.load(model());
        Map<String, ModuleAdapter> adapters = AdapterInjector.inject(model.linears(), model.embeddings(),
                config(method, List.of("embed_tokens", "q_proj")), model.outputHead(), 5);
        SplittableRandom rng = new SplittableRandom(3);
        List<Tensor> params = new ArrayList<>();
        for (ModuleAdapter a : adapters.values()) {
            for (AdapterTensor t : a.tensors()) {
                float[] v = t.tensor().data();
                for (int i = 0; i < v.length; i++) {
                    v[i] = t.group() == AdapterTensor.Group.MAGNITUDE ? v[i] * (float) (1 + 0.3 * (rng.nextDouble() * 2 - 1))
                            : v[i] * 0.5f + (float) (0.4 * (rng.nextDouble() * 2 - 1));
                }
                if (a instanceof LoraEmbedding) params.add(t.tensor());
            }
        }
        Embedding table = model.embeddings().get(LlamaModel.EMBED_TOKENS);
        LoraEmbedding e = (LoraEmbedding) adapters.get(LlamaModel.EMBED_TOKENS);
        int[] targets = CausalLM.shiftLabels(IDS, 2, 6);
        e.holdNorm(table, true);
        for (var en : adapters.entrySet()) {
            if (en.getValue() instanceof Adapter a) a.holdNorm(model.linears().get(en.getKey()), true);
        }
        GradCheck.Result res = GradCheck.standard().check(t -> model.loss(t, IDS, targets, 2, 6, 10f), params);
        // float32 through two layers: the bound of the whole-model check (ModelGradientTest)
        assertThat(res.maxRelError()).as(method + ": " + res).isLessThan(5e-3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void savedEmbeddingAdapterCarriesPeftKeysAndLoadsBack(String method, @TempDir Path tmp) throws Exception {
        LlamaModel model = LlamaLoader.load(model());
        PeftConfig config = config(method, List.of("embed_tokens", "v_proj"));
        Map<String, ModuleAdapter> adapters = AdapterInjector.inject(model.linears(), model.embeddings(), config,
                model.outputHead(), 9);
        LoraEmbedding e = (LoraEmbedding) adapters.get(LlamaModel.EMBED_TOKENS);
        SplittableRandom rng = new SplittableRandom(4);
        for (int i = 0; i < e.loraA().numel(); i++) e.loraA().data()[i] = (float) rng.nextGaussian();
        float[] logits = model.logits(IDS, 1, 12);
        Path dir = tmp.resolve("adapter");
        AdapterFiles.write(dir, config, adapters);

        TreeSet<String> stored = new TreeSet<>();
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(AdapterFiles.WEIGHTS_FILE))) {
            for (TensorInfo t : f.tensors()) stored.add(t.name());
        }
        String p = "base_model.model.model.embed_tokens.";
        assertThat(stored).contains(p + "lora_embedding_A", p + "lora_embedding_B")
                .contains("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight");
        assertThat(stored.contains(p + "lora_magnitude_vector")).isEqualTo(method.equals("dora"));

        LlamaModel fresh = LlamaLoader.load(model());
        AdapterInjector.attach(fresh.linears(), fresh.embeddings(), AdapterFiles.read(dir), fresh.outputHead(), false, 0);
        Approx.assertClose(method + " reloaded", fresh.logits(IDS, 1, 12), logits, 1e-6);
        assertThatThrownBy(() -> AdapterInjector.attach(fresh.linears(), AdapterFiles.read(dir), fresh.outputHead(), false, 0))
                .isInstanceOf(DoraException.class).hasMessageContaining("'model.embed_tokens' adapt an embedding")
                .hasMessageContaining("runs only merged");
    }

    @Test
    void embeddingTensorsThatTheConfigDoesNotTargetAreRefused(@TempDir Path tmp) throws Exception {
        Path src = EmbeddingMergeTest.fixtures().resolve("adapter_lora"), adapter = tmp.resolve("adapter");
        Files.createDirectories(adapter);
        Files.copy(src.resolve(AdapterFiles.WEIGHTS_FILE), adapter.resolve(AdapterFiles.WEIGHTS_FILE));
        Files.writeString(adapter.resolve("adapter_config.json"), Files.readString(src.resolve("adapter_config.json"))
                .replace("\"embed_tokens\"", "\"q_proj\""));
        LlamaModel model = LlamaLoader.load(model());
        assertThatThrownBy(() -> AdapterInjector.attach(model.linears(), model.embeddings(), AdapterFiles.read(adapter),
                model.outputHead(), false, 0)).isInstanceOf(DoraException.class)
                .hasMessageContaining("'base_model.model.model.embed_tokens.lora_embedding_A' adapts 'model.embed_tokens'")
                .hasMessageContaining("does not select");
    }

    @Test
    void veraRefusesAnEmbeddingTarget() throws Exception {
        LlamaModel model = LlamaLoader.load(model());
        PeftConfig config = PeftMethods.named("vera").newConfig(new AdapterSettings(4, 8, 0f, List.of("embed_tokens", "q_proj"),
                false, List.of(), "CAUSAL_LM", "tiny", 0.1f, 0));
        assertThatThrownBy(() -> AdapterInjector.inject(model.linears(), model.embeddings(), config, model.outputHead(), 1))
                .isInstanceOf(DoraException.class).hasMessageContaining("VeRA adapts linear layers only")
                .hasMessageContaining("'model.embed_tokens'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void aRunOnEmbedTokensResumesToTheSameTensors(String method, @TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) lines.add("{\"text\": \"Once upon a time, Lily found a blue kite number " + i + ".\"}");
        Files.write(data, lines);
        TrainConfig cfg = new TrainConfig(BundledModel.checkpoint().toString(), null, data.toString(), null, method, 4, 8,
                0.1f, List.of("embed_tokens", "q_proj"), false, 5e-3f, "adamw", 0.01f, 1, 4, 2, 2, 32, 0, "linear", 1.0f, 7,
                true, false, null, 0, 2, 0, 1f, false, false);
        Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
        TrainingRun run = TrainingRun.start(cfg, straight, null);
        float[] a0 = ((LoraEmbedding) run.adapters().get(LlamaModel.EMBED_TOKENS)).loraA().data().clone();
        run.run(m -> {}, Long.MAX_VALUE);
        assertThat(((LoraEmbedding) run.adapters().get(LlamaModel.EMBED_TOKENS)).loraA().data()).as("A trains").isNotEqualTo(a0);
        TrainingRun.start(cfg, killed, null).run(m -> {}, 3);
        TrainingRun resumed = TrainingRun.resume(killed, null);
        assertThat(resumed.trainer().step()).isEqualTo(2);
        resumed.run(m -> {}, Long.MAX_VALUE);
        assertThat(Files.readAllBytes(killed.resolve(AdapterFiles.WEIGHTS_FILE)))
                .isEqualTo(Files.readAllBytes(straight.resolve(AdapterFiles.WEIGHTS_FILE)));
        AdapterFiles.Loaded loaded = AdapterFiles.read(straight);
        assertThat(loaded.modules().get(LlamaModel.EMBED_TOKENS).kind()).isEqualTo(ModuleWeights.Kind.EMBEDDING);
        assertThat(loaded.config().targetModules()).contains("embed_tokens");
    }

    private static PeftConfig config(String method, List<String> targets) {
        return PeftMethods.named(method).newConfig(new AdapterSettings(4, 8, 0f, targets, false, List.of(), "CAUSAL_LM", "tiny",
                0.1f, 0));
    }
}
