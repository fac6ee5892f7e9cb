package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.kernel.Half;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --dtype at load: block linear weights converted one by one, everything else kept as stored. */
class LinearStorageTest {
    private static final Path STORIES = dev.dora4j.testing.SharedData.file("models/stories260K/stories260K.bin");

    @Test
    void parseNamesEachStorageAndRefusesMixtures() {
        assertThat(LinearStorage.parse(null, null, false)).isEqualTo(LinearStorage.AS_STORED);
        assertThat(LinearStorage.parse("BF16", null, false).storage()).isEqualTo(WeightStorage.BF16);
        assertThat(LinearStorage.parse(null, "nf4", true)).isEqualTo(new LinearStorage(WeightStorage.NF4, 64, true));
        assertThatThrownBy(() -> LinearStorage.parse("bf16", "nf4", false)).hasMessageContaining("give one");
        assertThatThrownBy(() -> LinearStorage.parse("int8", null, false)).hasMessageContaining("--dtype must be");
        assertThatThrownBy(() -> LinearStorage.parse(null, "f16", false)).hasMessageContaining("--quantize must be");
        assertThatThrownBy(() -> LinearStorage.parse(null, null, true)).hasMessageContaining("--double-quant needs");
        assertThatThrownBy(() -> LinearStorage.parse(null, "int8", true)).hasMessageContaining("4-bit");
        assertThatThrownBy(() -> LinearStorage.parse("q4", null, false)).hasMessageContaining("unknown storage 'q4'");
    }

    @Test
    void loaderConvertsOnlyTheBlockLinearWeights() {
        LlamaModel f32 = LlamaLoader.load(STORIES);
        for (WeightStorage target : new WeightStorage[] {WeightStorage.BF16, WeightStorage.F16}) {
            LlamaModel converted = LlamaLoader.load(STORIES, LinearStorage.of(target));
            Map<String, Tensor> before = f32.namedTensors(), after = converted.namedTensors();
            for (var e : after.entrySet()) {
                Tensor was = before.get(e.getKey()), now = e.getValue();
                boolean linear = f32.linears().containsKey(e.getKey().replaceAll("\\.weight$", ""));
                assertThat(now.storage()).as(e.getKey()).isEqualTo(linear ? target : WeightStorage.F32);
                float[] expected = was.toFloatArray(), got = now.toFloatArray();
                for (int i = 0; i < expected.length; i++) {
                    float want = !linear ? expected[i] : target == WeightStorage.BF16
                            ? Half.bf16ToFloat(Half.floatToBf16(expected[i])) : Half.f16ToFloat(Half.floatToF16(expected[i]));
                    assertThat(got[i]).as("%s[%d]", e.getKey(), i).isEqualTo(want);
                }
            }
        }
    }
}
