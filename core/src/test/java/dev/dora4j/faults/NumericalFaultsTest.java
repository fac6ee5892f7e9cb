package dev.dora4j.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.autograd.Tape;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Numbers that must never turn into silent NaN or infinity: zero-norm rows, half-precision overflow. */
class NumericalFaultsTest {
    @TempDir
    Path tmp;

    @Test
    void zeroNormRowsNeverProduceNaNInADoraModel() {
        LlamaModel model = LlamaLoader.load(BundledModel.checkpoint());
        Map<String, Linear> linears = model.linears();
        Linear q = linears.get("model.layers.0.self_attn.q_proj");
        Linear down = linears.get("model.layers.2.mlp.down_proj");
        zeroRows(q, 0, 5);
        zeroRows(down, 7, 8);
        AdapterConfig config = AdapterConfig.create(4, 8, 0f, List.of("q_proj", "down_proj"), true, false, "CAUSAL_LM", "t");
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.inject(linears, config, LlamaModel.OUTPUT_HEAD, 3));
        LoraAdapter qAdapter = adapters.get("model.layers.0.self_attn.q_proj");
        assertThat(qAdapter.magnitude().data()[0]).as("the magnitude of a zero row is its norm, 0").isZero();
        Arrays.fill(qAdapter.loraB().data(), 0.01f);
        Arrays.fill(qAdapter.loraB().data(), 0, 3 * 4, 0f);

        int batch = 2, seqLen = 12;
        int[] ids = new int[batch * seqLen];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1 + (i * 37) % 500;
        }
        int[] targets = LlamaModel.shiftLabels(ids, batch, seqLen);
        Tape tape = Tape.training();
        Tensor loss = model.loss(tape, ids, targets, batch, seqLen, LlamaModel.countTargets(targets));
        tape.backward(loss);

        assertThat(loss.data()[0]).as("loss").isFinite();
        for (var e : adapters.entrySet()) {
            LoraAdapter a = e.getValue();
            for (Tensor t : List.of(a.loraA(), a.loraB(), a.magnitude())) {
                assertAllFinite(t.grad(), e.getKey() + " " + t + " gradient");
            }
        }
        q.merge();
        down.merge();
        assertAllFinite(q.weight().data(), "merged q_proj");
        assertAllFinite(down.weight().data(), "merged down_proj");
        float[] rows = Arrays.copyOfRange(q.weight().data(), 0, 5 * q.inFeatures());
        for (int i = 0; i < rows.length; i++) {
            assertThat(rows[i] == 0f)
                    .as("rows of norm 0 (0-2: W and B·A zero) and of magnitude 0 (3-4) merge to ±0, not %s", rows[i])
                    .isTrue();
        }
    }

    @Test
    void narrowingAFloatBeyondHalfPrecisionIsRefusedNotWrittenAsInfinity() throws Exception {
        Path file = tmp.resolve("model.safetensors");
        new SafetensorsWriter().add("ok", new float[] {1f}, new long[] {1}, DType.F16).write(file);
        byte[] before = Files.readAllBytes(file);

        assertThatThrownBy(() -> new SafetensorsWriter()
                .add("ok", new float[] {1f}, new long[] {1}, DType.F16)
                .add("w", new float[] {1f, 70000f}, new long[] {2}, DType.F16)
                .write(file))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(file + ": tensor 'w': value 70000.0 at index 1 is out of the range of F16 and would become"
                        + " infinite");
        assertThatThrownBy(() -> new SafetensorsWriter()
                .add("b", new float[] {Float.MAX_VALUE}, new long[] {1}, DType.BF16)
                .write(file))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(file + ": tensor 'b': value 3.4028235E38 at index 0 is out of the range of BF16 and would"
                        + " become infinite");
        assertThat(Files.readAllBytes(file)).as("the previous file is intact").isEqualTo(before);
        assertThat(listing(tmp)).containsExactly(file);

        new SafetensorsWriter().add("inf", new float[] {Float.POSITIVE_INFINITY, 65504f}, new long[] {2}, DType.F16)
                .write(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertThat(st.readFloats("inf")).as("values that are already infinite, and the largest F16, are kept")
                    .containsExactly(Float.POSITIVE_INFINITY, 65504f);
        }
    }

    private static void zeroRows(Linear layer, int from, int to) {
        int in = layer.inFeatures();
        Arrays.fill(layer.weight().data(), from * in, to * in, 0f);
    }

    private static void assertAllFinite(float[] values, String what) {
        for (int i = 0; i < values.length; i++) {
            assertThat(values[i]).as(what + "[" + i + "]").isFinite();
        }
    }

    private static List<Path> listing(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.toList();
        }
    }
}
