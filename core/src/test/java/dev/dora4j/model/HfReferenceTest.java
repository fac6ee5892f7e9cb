package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.testing.Approx;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Small random Llama, Mistral and Qwen2 models in Hugging Face format against PyTorch references
 * written by tools/gen_model_fixtures.py (transformers' modelling re-implemented in torch, float64):
 * GQA, untied and tied heads, non-default rope_theta and RMS eps, linear and llama3 RoPE scaling,
 * BF16 and F16 weights; with and without DoRA/LoRA adapters, and merged.
 */
public class HfReferenceTest {
    public static Path dir(String name) throws Exception {
        return Path.of(HfReferenceTest.class.getResource("/fixtures/models/" + name + "/config.json").toURI()).getParent();
    }

    public static int[] ints(SafetensorsFile f, String name) {
        MemorySegment seg = f.data(name);
        int n = (int) (seg.byteSize() / 8);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = Math.toIntExact(seg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i));
        return out;
    }

    static float loss(LlamaModel model, int[] ids, int[] labels, int batch, int seq) {
        int[] targets = LlamaModel.shiftLabels(labels, batch, seq);
        return model.loss(Tape.inference(), ids, targets, batch, seq, LlamaModel.countTargets(targets)).data()[0];
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_gqa", "llama_bf16_tied", "mistral", "qwen2", "llama_linear_rope"})
    void logitsAndLossMatchPyTorch(String name) throws Exception {
        LlamaModel model = LlamaLoader.load(dir(name));
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"))) {
            int[] ids = ints(ref, "input_ids"), labels = ints(ref, "labels");
            int batch = (int) ref.info("input_ids").shape()[0], seq = (int) ref.info("input_ids").shape()[1];
            Approx.assertClose(name + " logits", model.logits(ids, batch, seq), ref.readFloats("logits"), 1e-4);
            Approx.assertClose(name + " loss", new float[] {loss(model, ids, ids, batch, seq)}, ref.readFloats("loss"), 1e-5);
            Approx.assertClose(name + " masked loss", new float[] {loss(model, ids, labels, batch, seq)},
                    ref.readFloats("loss_masked"), 1e-5);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama_bf16_tied, BF16", "mistral, F16", "llama_gqa, F32"})
    void linearWeightsKeepTheirStoredPrecisionInMemory(String name, String dtype) throws Exception {
        LlamaModel model = LlamaLoader.load(dir(name));
        for (var layer : model.linears().values()) {
            assertThat(layer.weight().storage().name()).as(layer.path()).isEqualTo(dtype);
            assertThat(layer.weight().bytes()).isEqualTo((long) layer.weight().numel() * (dtype.equals("F32") ? 4 : 2));
        }
        assertThat(model.embedTokens().storage().name()).isEqualTo(dtype);
        assertThat(model.lmHead().storage().name()).isEqualTo(dtype);
        model.trainAll(true);
        for (var layer : model.linears().values()) assertThat(layer.weight().storage()).isEqualTo(WeightStorage.F32);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama_gqa, dora", "llama_gqa, lora", "qwen2, dora", "qwen2, lora"})
    void adaptedAndMergedModelsMatchPyTorch(String name, String kind, @TempDir Path tmp) throws Exception {
        Path adapter = dir(name).resolve("adapter_" + kind);
        LlamaModel model = LlamaLoader.load(dir(name));
        AdapterInjector.attach(model.linears(), AdapterFiles.read(adapter), LlamaModel.OUTPUT_HEAD, false, 0);
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"))) {
            int[] ids = ints(ref, "input_ids");
            int batch = (int) ref.info("input_ids").shape()[0], seq = (int) ref.info("input_ids").shape()[1];
            float[] adapted = model.logits(ids, batch, seq);
            float[] want = ref.readFloats("logits_" + kind);
            Approx.assertClose(name + " " + kind + " logits", adapted, want, 1e-4);
            Approx.assertClose(name + " " + kind + " loss", new float[] {loss(model, ids, ids, batch, seq)},
                    ref.readFloats("loss_" + kind), 1e-5);
            assertThat(maxAbsDiff(adapted, ref.readFloats("logits"))).as("the adapter changes the logits").isGreaterThan(1e-3);

            Path merged = tmp.resolve("merged");
            ModelMerge.merge(dir(name), adapter, merged);
            assertThat(Files.exists(merged.resolve("config.json"))).isTrue();
            Approx.assertClose(name + " merged " + kind + " logits", LlamaLoader.load(merged).logits(ids, batch, seq), want, 1e-4);

            model.linears().values().forEach(l -> l.merge());
            Approx.assertClose(name + " in-place merged logits", model.logits(ids, batch, seq), want, 1e-4);
            model.linears().values().forEach(l -> l.unmerge());
            Approx.assertClose(name + " unmerged logits", model.logits(ids, batch, seq), want, 1e-4);
        }
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
