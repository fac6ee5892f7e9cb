package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Merging PEFT-format adapters into a small Hugging Face model directory against the merged
 * weights PyTorch computes ({@code tools/gen_peft_fixtures.py}): DoRA with rank and alpha
 * patterns over BF16, F16 and F32 weights, and rsLoRA targeted by a regex.
 */
class ModelMergeTest {
    static Path fixtures() throws Exception {
        return Path.of(ModelMergeTest.class.getResource("/fixtures/merge/model/config.json").toURI()).getParent().getParent();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"adapter, expected_dora.safetensors, 6", "adapter_lora, expected_lora.safetensors, 4"})
    void mergeMatchesPyTorch(String adapter, String expected, int mergedWeights, @TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("merged");
        ModelMerge.Summary s = ModelMerge.merge(fixtures().resolve("model"), fixtures().resolve(adapter), out);
        assertThat(s.mergedWeights()).isEqualTo(mergedWeights);
        assertThat(out.resolve("config.json")).hasSameTextualContentAs(fixtures().resolve("model/config.json"));
        assertThat(out.resolve("tokenizer_config.json")).exists();
        try (SafetensorsFile got = SafetensorsFile.open(out.resolve("model.safetensors"));
                SafetensorsFile want = SafetensorsFile.open(fixtures().resolve(expected));
                SafetensorsFile base = SafetensorsFile.open(fixtures().resolve("model/model.safetensors"))) {
            assertThat(got.tensors()).extracting(TensorInfo::name).containsExactlyElementsOf(
                    base.tensors().stream().map(TensorInfo::name).toList());
            int changed = 0;
            for (TensorInfo t : want.tensors()) {
                TensorInfo g = got.info(t.name());
                assertThat(g.dtypeName()).as(t.name()).isEqualTo(t.dtypeName());
                assertThat(g.shape()).as(t.name()).isEqualTo(t.shape());
                float[] a = got.readFloats(t.name()), e = want.readFloats(t.name());
                assertMergedClose(t, a, e);
                if (!java.util.Arrays.equals(e, base.readFloats(t.name()))) changed++;
            }
            assertThat(changed).as("tensors the reference changed").isEqualTo(mergedWeights);
        }
    }

    /** F32: 2e-6 of the row's largest value; BF16/F16: one unit in the last place of the stored type. */
    private static void assertMergedClose(TensorInfo t, float[] actual, float[] expected) {
        int cols = t.shape().length == 2 ? (int) t.shape()[1] : expected.length;
        for (int row = 0; row < expected.length / Math.max(1, cols); row++) {
            float rowMax = 0;
            for (int c = 0; c < cols; c++) rowMax = Math.max(rowMax, Math.abs(expected[row * cols + c]));
            for (int c = 0; c < cols; c++) {
                int i = row * cols + c;
                double tol = switch (t.dtype()) {
                    case F32 -> 2e-6 * rowMax;
                    case BF16 -> Math.ulp(expected[i]) * (1 << 16) * 1.0001;
                    case F16 -> Math.max(Math.ulp(expected[i]) * (1 << 13), 6e-8) * 1.0001;
                };
                assertThat((double) Math.abs(actual[i] - expected[i])).as(t.name() + "[" + i + "]").isLessThanOrEqualTo(tol);
            }
        }
    }

    @Test
    void halfPrecisionWeightsStayHalfPrecision(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("merged");
        ModelMerge.merge(fixtures().resolve("model"), fixtures().resolve("adapter"), out);
        try (SafetensorsFile got = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            assertThat(got.info("model.layers.0.self_attn.q_proj.weight").dtype()).isEqualTo(DType.BF16);
            assertThat(got.info("model.layers.0.self_attn.v_proj.weight").dtype()).isEqualTo(DType.F16);
            assertThat(got.info("model.layers.0.mlp.down_proj.weight").dtype()).isEqualTo(DType.F32);
        }
    }

    @Test
    void adapterThatDoesNotFitWritesNothing(@TempDir Path tmp) throws Exception {
        Path adapter = tmp.resolve("adapter");
        Files.createDirectories(adapter);
        Files.copy(fixtures().resolve("adapter/adapter_model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        String cfg = Files.readString(fixtures().resolve("adapter/adapter_config.json"));
        Files.writeString(adapter.resolve("adapter_config.json"), cfg.replace("\"down_proj\"\n  ]", "\"down_proj\", \"o_proj\"\n  ]"));
        Path out = tmp.resolve("merged");
        assertThatThrownBy(() -> ModelMerge.merge(fixtures().resolve("model"), adapter, out))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("adapter_model.safetensors")
                .hasMessageContaining("model.layers.0.self_attn.o_proj");
        assertThat(out).doesNotExist();
        try (Stream<Path> left = Files.list(tmp)) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactly("adapter");
        }
    }

    @Test
    void unknownPeftTypeIsRefused(@TempDir Path tmp) throws Exception {
        Path adapter = tmp.resolve("adapter");
        Files.createDirectories(adapter);
        Files.copy(fixtures().resolve("adapter/adapter_model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        Files.writeString(adapter.resolve("adapter_config.json"),
                Files.readString(fixtures().resolve("adapter/adapter_config.json")).replace("\"LORA\"", "\"IA3\""));
        assertThatThrownBy(() -> ModelMerge.merge(fixtures().resolve("model"), adapter, tmp.resolve("out")))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("adapter_config.json")
                .hasMessageContaining("IA3");
        assertThat(tmp.resolve("out")).doesNotExist();
    }

    @Test
    void shardedModelKeepsItsShards(@TempDir Path tmp) throws Exception {
        Path sharded = ShardedFixture.split(fixtures().resolve("model"), tmp.resolve("sharded"));
        Path out = tmp.resolve("merged");
        ModelMerge.merge(sharded, fixtures().resolve("adapter"), out);
        assertThat(out.resolve("model.safetensors.index.json")).exists();
        assertThat(out.resolve("model.safetensors")).doesNotExist();
        Path flat = tmp.resolve("flat");
        ModelMerge.merge(fixtures().resolve("model"), fixtures().resolve("adapter"), flat);
        try (var a = dev.dora4j.io.ShardedSafetensors.open(out); var b = dev.dora4j.io.ShardedSafetensors.open(flat)) {
            assertThat(a.isSharded()).isTrue();
            for (String name : b.names()) assertThat(a.readFloats(name)).as(name).isEqualTo(b.readFloats(name));
        }
    }
}
