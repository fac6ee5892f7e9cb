package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.testing.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelRegistryTest {
    @TempDir
    Path tmp;

    @Test
    void aLlama2cCheckpointLoadsAsACausalLanguageModel() {
        Path file = SharedData.file("models/stories260K/stories260K.bin");
        assertThat(ModelRegistry.isCausalLM(file)).isTrue();
        CausalLM model = ModelRegistry.causalLM(file);
        assertThat(model.modelType()).isEqualTo("llama");
        assertThat(model.vocabSize()).isEqualTo(512);
    }

    @Test
    void anUnknownModelTypeIsRefusedNamingTheFileAndTheSupportedTypes() throws Exception {
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
        assertThatThrownBy(() -> ModelRegistry.causalLM(tmp)).isInstanceOf(DoraException.class)
                .hasMessageContaining(tmp.resolve("config.json").toString()).hasMessageContaining("'gpt2'")
                .hasMessageContaining("(supported: llama, mistral, qwen2)");
        assertThatThrownBy(() -> ModelRegistry.encoder(tmp, dev.dora4j.model.LinearStorage.AS_STORED))
                .isInstanceOf(DoraException.class).hasMessageContaining("(supported: bert)");
    }

    @Test
    void anEncoderIsNotACausalLanguageModel() throws Exception {
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\": \"bert\"}");
        assertThat(ModelRegistry.family(tmp)).isSameAs(ModelRegistry.BERT);
        assertThatThrownBy(() -> ModelRegistry.causalLM(tmp)).isInstanceOf(DoraException.class)
                .hasMessageContaining("model_type 'bert' is not supported (supported: llama, mistral, qwen2)")
                .hasMessageContaining("--task classify");
    }

    @Test
    void theLlamaWriterWritesWhatTheLoaderReadsBack() {
        CausalLM model = ModelRegistry.causalLM(SharedData.file("models/stories260K/stories260K.bin"));
        ModelRegistry.LLAMA.writer().write(model, tmp, dev.dora4j.tensor.DType.F32);
        CausalLM back = ModelRegistry.causalLM(tmp);
        int[] ids = {1, 403, 407};
        assertThat(back.logits(ids, 1, 3)).containsExactly(model.logits(ids, 1, 3));
    }
}
