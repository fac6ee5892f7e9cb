package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.testing.Approx;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PEFT adapters on {@code embed_tokens} (lora_embedding_A/B, the DoRA magnitude over the vocabulary and the saved
 * base_layer copy) merged into the tiny Llama, against the tables tools/gen_embedding_fixtures.py computes.
 */
class EmbeddingMergeTest {
    static Path fixtures() throws Exception {
        return Path.of(EmbeddingMergeTest.class.getResource("/fixtures/embedding/cases.txt").toURI()).getParent();
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "dora"})
    void embeddingAdapterMergesAsPeftMergesIt(String method, @TempDir Path tmp) throws Exception {
        Path model = ModelMergeTest.fixtures().resolve("model"), out = tmp.resolve("merged");
        Path adapter = fixtures().resolve("adapter_" + method);
        ModelMerge.Summary s = ModelMerge.merge(model, adapter, out);
        assertThat(s.mergedWeights()).isEqualTo(1);
        assertThat(s.dora()).isEqualTo(method.equals("dora"));
        try (SafetensorsFile got = SafetensorsFile.open(out.resolve("model.safetensors"));
                SafetensorsFile want = SafetensorsFile.open(fixtures().resolve("adapter_expected.safetensors"))) {
            Approx.assertClose(method + " embed_tokens", got.readFloats("model.embed_tokens.weight"),
                    want.readFloats(method + ".model.embed_tokens.weight"), 1e-5);
        }
        assertThatThrownBy(() -> AdapterInjector.attach(LlamaLoader.load(model).linears(), AdapterFiles.read(adapter),
                LlamaModel.OUTPUT_HEAD, false, 0)).isInstanceOf(DoraException.class)
                .hasMessageContaining("'model.embed_tokens' adapt an embedding").hasMessageContaining("runs only merged");
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora"})
    void aSavedBaseTableThatDiffersFromTheModelIsRefused(String method, @TempDir Path tmp) throws Exception {
        Path adapter = tmp.resolve("adapter");
        Files.createDirectories(adapter);
        Path src = fixtures().resolve("adapter_" + method);
        Files.copy(src.resolve("adapter_config.json"), adapter.resolve("adapter_config.json"));
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsFile f = SafetensorsFile.open(src.resolve(AdapterFiles.WEIGHTS_FILE))) {
            for (TensorInfo t : f.tensors()) {
                float[] v = f.readFloats(t.name());
                if (t.name().endsWith(".base_layer.weight")) v[5] += 0.5f;
                writer.add(t.name(), v, t.shape(), t.dtype());
            }
        }
        writer.write(adapter.resolve(AdapterFiles.WEIGHTS_FILE));
        assertThatThrownBy(() -> ModelMerge.merge(ModelMergeTest.fixtures().resolve("model"), adapter, tmp.resolve("out")))
                .isInstanceOf(DoraException.class).hasMessageContaining("embed_tokens.base_layer.weight")
                .hasMessageContaining("index 5").hasMessageContaining("another base model");
        assertThat(tmp.resolve("out")).doesNotExist();
    }
}
