package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.GradCheck;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Whole-model backward: against PyTorch's gradients, by finite differences, and with activation checkpointing. */
class ModelGradientTest {
    private static final java.nio.file.Path GQA = uncheckedDir("llama_gqa");

    static java.nio.file.Path uncheckedDir(String name) {
        try {
            return HfReferenceTest.dir(name);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void backward(LlamaModel model, int[] ids, int batch, int seq) {
        int[] targets = LlamaModel.shiftLabels(ids, batch, seq);
        Tape tape = Tape.training();
        tape.backward(model.loss(tape, ids, targets, batch, seq, LlamaModel.countTargets(targets)));
    }

    @Test
    void doraAdapterGradientsMatchPyTorch() throws Exception {
        LlamaModel model = LlamaLoader.load(GQA);
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.attach(model.linears(),
                AdapterFiles.read(GQA.resolve("adapter_dora")), LlamaModel.OUTPUT_HEAD, true, 0));
        try (SafetensorsFile ref = SafetensorsFile.open(GQA.resolve("reference.safetensors"));
                SafetensorsFile grads = SafetensorsFile.open(GQA.resolve("gradients.safetensors"))) {
            int[] ids = HfReferenceTest.ints(ref, "input_ids");
            backward(model, ids, 2, 7);
            int checked = 0;
            for (var e : adapters.entrySet()) {
                String p = e.getKey();
                LoraAdapter a = e.getValue();
                Approx.assertClose(p + " lora_A", a.loraA().grad(), grads.readFloats("grad." + PeftKeys.loraA(p)), 1e-4);
                Approx.assertClose(p + " lora_B", a.loraB().grad(), grads.readFloats("grad." + PeftKeys.loraB(p)), 1e-4);
                Approx.assertClose(p + " magnitude", a.magnitude().grad(), grads.readFloats("grad." + PeftKeys.magnitude(p)), 1e-4);
                checked += 3;
            }
            assertThat(checked).isEqualTo(grads.tensors().stream().filter(t -> t.name().startsWith("grad.")).count());
        }
    }

    @Test
    void fullFineTuningGradientsMatchPyTorch() throws Exception {
        LlamaModel model = LlamaLoader.load(GQA);
        model.trainAll(true);
        try (SafetensorsFile ref = SafetensorsFile.open(GQA.resolve("reference.safetensors"));
                SafetensorsFile grads = SafetensorsFile.open(GQA.resolve("gradients.safetensors"))) {
            backward(model, HfReferenceTest.ints(ref, "input_ids"), 2, 7);
            Map<String, Tensor> named = model.namedTensors();
            int checked = 0;
            for (TensorInfo t : grads.tensors()) {
                if (!t.name().startsWith("fullgrad.")) continue;
                String name = t.name().substring("fullgrad.".length());
                Approx.assertClose(name, named.get(name).grad(), grads.readFloats(t.name()), 1e-4);
                checked++;
            }
            assertThat(checked).isEqualTo(named.size());
        }
    }

    @Test
    void tinyModelBackwardMatchesFiniteDifferences() throws Exception {
        LlamaModel model = LlamaLoader.load(uncheckedDir("qwen2"));
        model.trainAll(true);
        int[] ids = {1, 5, 9, 2, 33, 7, 11, 3};
        int[] targets = LlamaModel.shiftLabels(ids, 2, 4);
        List<Tensor> params = new ArrayList<>(model.namedTensors().values());
        GradCheck.Result r = new GradCheck(3e-2, 12, 99).check(
                t -> model.loss(t, ids, targets, 2, 4, LlamaModel.countTargets(targets)), params);
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(5e-3);
    }

    // LoRA's layers also rotate q and k and add the residual in place: the recomputed segment must do the same
    @ParameterizedTest
    @ValueSource(strings = {"adapter_dora", "adapter_lora"})
    void activationCheckpointingGivesTheSameGradients(String adapter) throws Exception {
        int[] ids = {1, 5, 9, 2, 33, 7, 11, 3, 4, 8, 12, 6, 0, 13};
        float[][] plain = gradientsWithCheckpointing(adapter, false, ids);
        float[][] checkpointed = gradientsWithCheckpointing(adapter, true, ids);
        for (int i = 0; i < plain.length; i++) assertThat(checkpointed[i]).containsExactly(plain[i]);
    }

    private static float[][] gradientsWithCheckpointing(String adapter, boolean on, int[] ids) throws Exception {
        LlamaModel model = LlamaLoader.load(GQA);
        var loaded = AdapterFiles.read(GQA.resolve(adapter));
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.attach(model.linears(), loaded, LlamaModel.OUTPUT_HEAD, true, 0));
        for (LoraAdapter a : adapters.values()) assertThat(a.dropout()).isNull();
        model.activationCheckpointing(on);
        model.layers().getFirst().inputNorm().requiresGrad(true);
        backward(model, ids, 2, 7);
        List<float[]> out = new ArrayList<>();
        for (LoraAdapter a : adapters.values()) {
            out.add(a.loraA().grad());
            out.add(a.loraB().grad());
            if (a.magnitude() != null) out.add(a.magnitude().grad());
        }
        out.add(model.layers().getFirst().inputNorm().grad());
        return out.toArray(new float[0][]);
    }
}
