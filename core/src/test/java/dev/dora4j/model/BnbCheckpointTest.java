package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.kernel.FourBitMatrix;
import dev.dora4j.kernel.Int8Matrix;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checkpoints saved as transformers saves bitsandbytes models (tools/gen_bnb_fixtures.py): the dequantised weights
 * bit for bit, the logits / hidden states of the tiny Llama and BERT within 1e-4 of the torch forward on those
 * weights, with and without a DoRA adapter; and {@code --quantize} of the same float32 model giving the same codes.
 */
class BnbCheckpointTest {
    static Path dir(String name) throws Exception {
        return Path.of(BnbCheckpointTest.class.getResource("/fixtures/bnb/" + name + "/config.json").toURI()).getParent();
    }

    static void assertDequantizedBitForBit(Map<String, Tensor> tensors, SafetensorsFile ref, String prefix) {
        int quantized = 0;
        for (var e : tensors.entrySet()) {
            String stored = prefix + e.getKey();
            if (!ref.contains("dequantized." + stored)) continue;
            assertThat(e.getValue().storage().quantized()).as(stored).isTrue();
            float[] got = e.getValue().toFloatArray(), want = ref.readFloats("dequantized." + stored);
            for (int i = 0; i < want.length; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                    throw new AssertionError(stored + "[" + i + "] = " + got[i] + ", bitsandbytes dequantises " + want[i]);
                }
            }
            quantized++;
        }
        assertThat(quantized).as("quantised weights compared").isEqualTo(
                (int) ref.tensors().stream().filter(t -> t.name().startsWith("dequantized.")).count()).isPositive();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_nf4_dq", "llama_fp4_sharded", "llama_int8"})
    void llamaCheckpointMatchesTorchOnItsDequantisedWeights(String name) throws Exception {
        LlamaModel model = LlamaLoader.load(dir(name));
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"))) {
            assertDequantizedBitForBit(model.namedTensors(), ref, "");
            int[] ids = HfReferenceTest.ints(ref, "input_ids");
            int batch = (int) ref.info("input_ids").shape()[0], seq = (int) ref.info("input_ids").shape()[1];
            Approx.assertClose(name + " logits", model.logits(ids, batch, seq), ref.readFloats("logits"), 1e-4);
            AdapterInjector.attach(model.linears(), AdapterFiles.read(HfReferenceTest.dir("llama_gqa").resolve("adapter_dora")),
                    LlamaModel.OUTPUT_HEAD, false, 0);
            Approx.assertClose(name + " DoRA logits", model.logits(ids, batch, seq), ref.readFloats("logits_dora"), 1e-4);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert_nf4_sharded", "bert_int8"})
    void bertCheckpointMatchesTorchOnItsDequantisedWeights(String name) throws Exception {
        BertModel model = BertLoader.load(dir(name));
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"));
                SafetensorsFile inputs = SafetensorsFile.open(BertReferenceTest.dir("bert_f32").resolve("reference.safetensors"))) {
            assertDequantizedBitForBit(model.namedTensors(), ref, "");
            BertReferenceTest.Batch b = BertReferenceTest.Batch.of(inputs);
            Approx.assertClose(name + " hidden", model.hidden(Tape.inference(), b.ids(), b.types(), b.offsets()).data(),
                    ref.readFloats("hidden"), 1e-4);
            AdapterInjector.attach(model.linears(), AdapterFiles.read(BertReferenceTest.dir("bert_f32").resolve("adapter_dora")),
                    BertModel.CLASSIFIER, false, 0);
            Approx.assertClose(name + " DoRA hidden", model.hidden(Tape.inference(), b.ids(), b.types(), b.offsets()).data(),
                    ref.readFloats("hidden_dora"), 1e-4);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"llama_nf4_dq, NF4, 64, true", "llama_fp4_sharded, FP4, 128, false", "llama_int8, INT8, 64, false"})
    void quantizeAtLoadGivesTheCheckpointsCodes(String name, WeightStorage storage, int blockSize, boolean doubleQuant)
            throws Exception {
        LlamaModel quantized = LlamaLoader.load(HfReferenceTest.dir("llama_gqa"), new LinearStorage(storage, blockSize, doubleQuant));
        LlamaModel checkpoint = LlamaLoader.load(dir(name));
        int compared = 0;
        for (var e : checkpoint.linears().entrySet()) {
            WeightMatrix want = e.getValue().weight().matrix();
            WeightMatrix got = quantized.linears().get(e.getKey()).weight().matrix();
            assertThat(got.storage()).as(e.getKey()).isEqualTo(storage);
            if (want instanceof Int8Matrix w8) {
                Int8Matrix g8 = (Int8Matrix) got;
                assertThat(g8.codes()).as(e.getKey() + " CB").isEqualTo(w8.codes());
                assertThat(g8.scb()).as(e.getKey() + " SCB").isEqualTo(w8.scb());
            } else {
                FourBitMatrix w4 = (FourBitMatrix) want, g4 = (FourBitMatrix) got;
                assertThat(g4.packed()).as(e.getKey() + " codes").isEqualTo(w4.packed());
                assertThat(g4.blockSize()).isEqualTo(w4.blockSize());
                if (doubleQuant) {
                    assertThat(g4.nested().codes()).as(e.getKey() + " absmax codes").isEqualTo(w4.nested().codes());
                    assertThat(g4.nested().absmax()).as(e.getKey() + " nested absmax").isEqualTo(w4.nested().absmax());
                    assertThat(g4.nested().offset()).as(e.getKey() + " offset").isEqualTo(w4.nested().offset());
                } else {
                    assertThat(g4.absmax()).as(e.getKey() + " absmax").isEqualTo(w4.absmax());
                }
            }
            compared++;
        }
        assertThat(compared).isEqualTo(14);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama_nf4_dq", "llama_fp4_sharded", "llama_int8"})
    void mergeWritesTheDequantisedModelWithTheAdapterFolded(String name, @TempDir Path tmp) throws Exception {
        Path adapter = HfReferenceTest.dir("llama_gqa").resolve("adapter_dora");
        Path merged = tmp.resolve("f32");
        ModelMerge.Summary s = ModelMerge.merge(dir(name), adapter, merged, LinearStorage.AS_STORED, WeightStorage.F32);
        assertThat(s.mergedWeights()).isEqualTo(8);
        assertThat(BnbConfig.read(merged)).as("quantization_config dropped").isNull();
        LlamaModel model = LlamaLoader.load(merged);
        for (var e : model.linears().entrySet()) {
            assertThat(e.getValue().weight().storage()).as(e.getKey()).isEqualTo(WeightStorage.F32);
        }
        try (SafetensorsFile ref = SafetensorsFile.open(dir(name).resolve("reference.safetensors"))) {
            int[] ids = HfReferenceTest.ints(ref, "input_ids");
            int batch = (int) ref.info("input_ids").shape()[0], seq = (int) ref.info("input_ids").shape()[1];
            Approx.assertClose(name + " merged logits", model.logits(ids, batch, seq), ref.readFloats("logits_dora"), 1e-4);
        }
        // by default the compute dtype of quantization_config: bfloat16 for llama_nf4_dq, float32 for the others
        Path byDefault = tmp.resolve("default");
        ModelMerge.merge(dir(name), adapter, byDefault, LinearStorage.AS_STORED, null);
        WeightStorage want = name.equals("llama_nf4_dq") ? WeightStorage.BF16 : WeightStorage.F32;
        for (var e : LlamaLoader.load(byDefault).linears().entrySet()) {
            assertThat(e.getValue().weight().storage()).as(e.getKey()).isEqualTo(want);
        }
    }

    @Test
    void mergeOntoAFloatModelQuantisedAsInTrainingUsesTheDequantisedBase(@TempDir Path tmp) throws Exception {
        Path adapter = HfReferenceTest.dir("llama_gqa").resolve("adapter_dora");
        Path merged = tmp.resolve("merged");
        ModelMerge.merge(HfReferenceTest.dir("llama_gqa"), adapter, merged, new LinearStorage(WeightStorage.NF4, 64, true), null);
        try (SafetensorsFile ref = SafetensorsFile.open(dir("llama_nf4_dq").resolve("reference.safetensors"))) {
            int[] ids = HfReferenceTest.ints(ref, "input_ids");
            int batch = (int) ref.info("input_ids").shape()[0], seq = (int) ref.info("input_ids").shape()[1];
            Approx.assertClose("merged onto NF4", LlamaLoader.load(merged).logits(ids, batch, seq), ref.readFloats("logits_dora"), 1e-4);
        }
    }
}
