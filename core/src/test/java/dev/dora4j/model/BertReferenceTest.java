package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.autograd.EncoderOps;
import dev.dora4j.autograd.GradCheck;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two small random BERT models against PyTorch references written by tools/gen_bert_fixtures.py (transformers'
 * BertModel, BertPooler and BertForSequenceClassification re-implemented in torch, float64, on a padded batch with
 * an attention mask): bert_f32 ("bert." names, pooler, classifier, CLS pooling) and bert_bf16 (no prefix, no pooler,
 * BF16 weights, mean pooling), with and without LoRA / DoRA adapters on query, key, value and the dense layers.
 */
class BertReferenceTest {
    static Path dir(String name) throws Exception {
        return Path.of(BertReferenceTest.class.getResource("/fixtures/bert/" + name + "/config.json").toURI()).getParent();
    }

    /** The reference batch: packed ids, token types, offsets and labels. */
    record Batch(int[] ids, int[] types, int[] offsets, int[] labels) {
        static Batch of(SafetensorsFile ref) {
            return new Batch(HfReferenceTest.ints(ref, "input_ids"), HfReferenceTest.ints(ref, "token_type_ids"),
                    HfReferenceTest.ints(ref, "offsets"), HfReferenceTest.ints(ref, "labels"));
        }

        int size() {
            return offsets.length - 1;
        }
    }

    private static String pooling(BertModel model) {
        return model.hasPooler() ? "cls" : "mean";
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert_f32", "bert_bf16"})
    void hiddenStatesAndPoolingMatchPyTorch(String name) throws Exception {
        BertModel model = BertLoader.load(dir(name));
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"))) {
            Batch b = Batch.of(ref);
            Tensor hidden = model.hidden(Tape.inference(), b.ids(), b.types(), b.offsets());
            assertThat(hidden.shape()).containsExactly(b.ids().length, 32);
            Approx.assertClose(name + " hidden", hidden.data(), ref.readFloats("hidden"), 1e-4);
            Approx.assertClose(name + " mean", model.pool(Tape.inference(), hidden, b.offsets(), "mean").data(),
                    ref.readFloats("mean_pooled"), 1e-4);
            float[] cls = model.pool(Tape.inference(), hidden, b.offsets(), "cls").data();
            Approx.assertClose(name + " cls", cls, ref.readFloats(model.hasPooler() ? "pooler_output" : "cls"), 1e-4);
            Approx.assertClose(name + " first tokens", EncoderOps.selectRows(Tape.inference(), hidden,
                    new int[] {b.offsets()[0], b.offsets()[1], b.offsets()[2]}).data(), ref.readFloats("cls"), 1e-4);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"bert_f32, base", "bert_f32, lora", "bert_f32, dora", "bert_bf16, base", "bert_bf16, lora",
            "bert_bf16, dora"})
    void classificationLossAndGradientsMatchPyTorch(String name, String kind) throws Exception {
        BertModel model = BertLoader.load(dir(name));
        Map<String, LoraAdapter> adapters = LoraAdapters.of(kind.equals("base") ? Map.of() : AdapterInjector.attach(model.linears(),
                AdapterFiles.read(dir(name).resolve("adapter_" + kind)), BertModel.CLASSIFIER, true, 0));
        if (!kind.equals("base")) assertThat(adapters).hasSize(12);
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"));
                SafetensorsFile grads = SafetensorsFile.open(dir(name).resolve("gradients.safetensors"))) {
            Batch b = Batch.of(ref);
            Tensor weight, bias;
            if (model.classifierWeight() != null) {
                weight = Tensor.param(model.classifierWeight().data().clone(), model.classifierWeight().shape());
                bias = Tensor.param(model.classifierBias().data().clone(), model.classifierBias().shape());
            } else {
                weight = Tensor.param(ref.readFloats("classifier.weight"), 3, 32);
                bias = Tensor.param(ref.readFloats("classifier.bias"), 3);
            }
            Tape tape = Tape.training();
            Tensor hidden = model.hidden(tape, b.ids(), b.types(), b.offsets());
            if (!kind.equals("base")) {
                Approx.assertClose(name + " " + kind + " hidden", hidden.data(), ref.readFloats("hidden_" + kind), 1e-4);
            }
            Tensor logits = Ops.linear(tape, model.pool(tape, hidden, b.offsets(), pooling(model)), weight, bias);
            Tensor loss = EncoderOps.crossEntropy(tape, logits, b.labels(), b.size());
            Approx.assertClose(name + " " + kind + " logits", logits.data(), ref.readFloats("logits_" + kind), 1e-4);
            Approx.assertClose(name + " " + kind + " loss", loss.data(), ref.readFloats("loss_" + kind), 1e-5);
            tape.backward(loss);
            String g = "grad_" + kind + ".";
            Approx.assertClose("classifier.weight", weight.grad(), grads.readFloats(g + "classifier.weight"), 1e-4);
            Approx.assertClose("classifier.bias", bias.grad(), grads.readFloats(g + "classifier.bias"), 1e-4);
            int checked = 2;
            for (var e : adapters.entrySet()) {
                String p = e.getKey();
                LoraAdapter a = e.getValue();
                Approx.assertClose(p + " lora_A", a.loraA().grad(), grads.readFloats(g + PeftKeys.loraA(p)), 1e-4);
                Approx.assertClose(p + " lora_B", a.loraB().grad(), grads.readFloats(g + PeftKeys.loraB(p)), 1e-4);
                checked += 2;
                if (a.isDora()) {
                    Approx.assertClose(p + " magnitude", a.magnitude().grad(), grads.readFloats(g + PeftKeys.magnitude(p)), 1e-4);
                    checked++;
                }
            }
            int c = checked;
            assertThat(grads.tensors().stream().filter(t -> t.name().startsWith(g)).count()).isEqualTo(c);
        }
    }

    @Test
    void modulePathsFollowTheRequestedPrefix() throws Exception {
        BertModel prefixed = BertLoader.load(dir("bert_f32"));
        assertThat(prefixed.prefix()).isEqualTo("bert.");
        assertThat(prefixed.linears().keySet()).hasSize(13).first().isEqualTo("bert.encoder.layer.0.attention.self.query");
        assertThat(prefixed.linears().keySet()).last().isEqualTo("bert.pooler.dense");
        // PEFT's suffix match: "dense" selects attention.output.dense, output.dense, intermediate.dense and the pooler
        var dense = dev.dora4j.peft.AdapterInjector.inject(prefixed.linears(), dev.dora4j.peft.AdapterConfig.create(2, 4, 0f,
                java.util.List.of("dense"), false, false, "SEQ_CLS", "bert_f32"), BertModel.CLASSIFIER, 1);
        assertThat(dense).hasSize(2 * 3 + 1).containsKey("bert.pooler.dense");
        assertThat(prefixed.linears().keySet()).containsSubsequence("bert.encoder.layer.0.attention.self.value",
                "bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.intermediate.dense",
                "bert.encoder.layer.0.output.dense", "bert.encoder.layer.1.attention.self.query");
        assertThat(prefixed.namedTensors()).hasSize(5 + 2 * 16 + 2).containsKey("bert.pooler.dense.weight")
                .containsKey("bert.embeddings.LayerNorm.bias");
        assertThat(prefixed.hasPooler()).isTrue();
        assertThat(prefixed.classifierWeight().shape()).containsExactly(3, 32);
        assertThat(prefixed.config().numLabels()).isEqualTo(3);
        assertThat(prefixed.config().id2label()).containsEntry(2, "positive");

        BertModel bare = BertLoader.load(dir("bert_f32"), "");
        assertThat(bare.linears().keySet().iterator().next()).isEqualTo("encoder.layer.0.attention.self.query");
        assertThat(bare.namedTensors()).containsKey("pooler.dense.bias");

        BertModel bf16 = BertLoader.load(dir("bert_bf16"), "bert.");
        assertThat(bf16.linears().keySet().iterator().next()).isEqualTo("bert.encoder.layer.0.attention.self.query");
        assertThat(bf16.hasPooler()).isFalse();
        assertThat(bf16.classifierWeight()).isNull();
        assertThat(bf16.namedTensors()).hasSize(5 + 2 * 16);
        assertThat(bf16.parameterCount()).isEqualTo(100 * 32 + 64 * 32 + 2 * 32 + 2 * 32
                + 2 * (4 * (32 * 32 + 32) + 2 * 32 + (64 * 32 + 64) + (32 * 64 + 32) + 2 * 32));
        assertThatThrownBy(() -> BertLoader.load(dir("bert_f32"), "roberta.")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void bf16LinearWeightsStayTwoBytesUntilTrained() throws Exception {
        BertModel model = BertLoader.load(dir("bert_bf16"));
        for (var layer : model.linears().values()) {
            assertThat(layer.weight().storage().name()).as(layer.path()).isEqualTo("BF16");
            assertThat(layer.weight().bytes()).isEqualTo(2L * layer.weight().numel());
        }
        model.trainAll(true);
        for (var layer : model.linears().values()) assertThat(layer.weight().storage()).isEqualTo(WeightStorage.F32);
    }

    @Test
    void fullModelBackwardMatchesFiniteDifferences() throws Exception {
        BertModel model = BertLoader.load(dir("bert_f32"));
        model.trainAll(true);
        int[] ids = {2, 17, 5, 40, 2, 9, 77, 3, 12};
        int[] types = {0, 0, 1, 1, 0, 0, 0, 1, 1};
        int[] offsets = {0, 4, 9};
        Tensor weight = Tensor.param(model.classifierWeight().data().clone(), 3, 32);
        Tensor bias = Tensor.param(model.classifierBias().data().clone(), 3);
        List<Tensor> params = new ArrayList<>(model.namedTensors().values());
        params.add(weight);
        params.add(bias);
        GradCheck.Result r = new GradCheck(3e-2, 10, 7).check(t -> {
            Tensor pooled = model.pool(t, model.hidden(t, ids, types, offsets), offsets, "cls");
            return EncoderOps.crossEntropy(t, Ops.linear(t, pooled, weight, bias), new int[] {1, 2}, 2f);
        }, params);
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(5e-3);
    }

    @Test
    void activationCheckpointingGivesTheSameGradients() throws Exception {
        float[][] plain = doraGradients(false), checkpointed = doraGradients(true);
        for (int i = 0; i < plain.length; i++) assertThat(checkpointed[i]).containsExactly(plain[i]);
    }

    private static float[][] doraGradients(boolean checkpointing) throws Exception {
        BertModel model = BertLoader.load(dir("bert_f32"));
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.attach(model.linears(),
                AdapterFiles.read(dir("bert_f32").resolve("adapter_dora")), BertModel.CLASSIFIER, true, 0));
        model.activationCheckpointing(checkpointing);
        model.namedTensors().get("bert.encoder.layer.0.attention.output.LayerNorm.weight").requiresGrad(true);
        int[] ids = {2, 17, 5, 40, 2, 9, 77, 3, 12};
        int[] offsets = {0, 4, 9};
        Tape tape = Tape.training();
        Tensor pooled = model.pool(tape, model.hidden(tape, ids, null, offsets), offsets, "cls");
        float[] w = new float[pooled.numel()];
        for (int i = 0; i < w.length; i++) w[i] = (i % 7) - 3;
        tape.backward(Ops.weightedSum(tape, pooled, w));
        List<float[]> out = new ArrayList<>();
        for (LoraAdapter a : adapters.values()) {
            out.add(a.loraA().grad());
            out.add(a.loraB().grad());
            out.add(a.magnitude().grad());
        }
        out.add(model.namedTensors().get("bert.encoder.layer.0.attention.output.LayerNorm.weight").grad());
        return out.toArray(new float[0][]);
    }

    @Test
    void sequencesLongerThanThePositionTableAreRefused() throws Exception {
        BertModel model = BertLoader.load(dir("bert_bf16"));
        int[] ids = new int[70];
        assertThatThrownBy(() -> model.hidden(Tape.inference(), ids, null, new int[] {0, 5, 70}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sequence 1 has 65 tokens, more than max_position_embeddings 64");
        assertThatThrownBy(() -> model.pool(Tape.inference(), Tensor.of(new float[64], 2, 32), new int[] {0, 2}, "max"))
                .hasMessageContaining("pooling 'max'");
    }

    @Test
    void shardedCheckpointLoadsTheSame(@TempDir Path tmp) throws Exception {
        Path sharded = ShardedFixture.split(dir("bert_f32"), tmp.resolve("sharded"));
        int[] ids = {2, 17, 5, 40, 2, 9, 77};
        int[] offsets = {0, 4, 7};
        float[] want = BertLoader.load(dir("bert_f32")).hidden(Tape.inference(), ids, null, offsets).data();
        assertThat(BertLoader.load(sharded).hidden(Tape.inference(), ids, null, offsets).data()).containsExactly(want);
    }
}
