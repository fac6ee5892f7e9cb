package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {
    private static final String TOK512 = "models/stories260K/tok512.bin";
    private static final String MINILM = "minilm/all-minilm-l6-v2-tokenizer.json";

    @TempDir
    Path dir;

    private Path copy(String data, String name) throws IOException {
        return Files.copy(SharedData.file(data), dir.resolve(name));
    }

    private Path touch(String name) throws IOException {
        return Files.writeString(dir.resolve(name), "x");
    }

    private static Tokenizer loaded(Path model, Path explicit) {
        try (Tokenizer tokenizer = Tokenizers.load(model, explicit)) {
            return tokenizer;
        }
    }

    @Test
    void explicitFileByExtension() throws IOException {
        Path bin = copy(TOK512, "my-vocab.bin");
        Path json = copy(MINILM, "vocab.json");
        assertThat(loaded(dir, bin)).isInstanceOf(Llama2cTokenizer.class);
        assertThat(loaded(null, json)).isInstanceOf(HfTokenizer.class);
        assertThat(loaded(dir.resolve("whatever.bin"), json).source()).isEqualTo(json.toString());
    }

    @Test
    void explicitFileThatIsMissingOrUnknown() throws IOException {
        Path missing = dir.resolve("nope.json");
        assertThatThrownBy(() -> Tokenizers.load(dir, missing))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("does not exist");
        Path text = touch("vocab.txt");
        assertThatThrownBy(() -> Tokenizers.load(dir, text))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(text.toString())
                .hasMessageContaining("unknown tokenizer format");
    }

    @Test
    void sentencePieceModelIsNotSupportedYet() throws IOException {
        Path model = touch("tokenizer.model");
        assertThatThrownBy(() -> Tokenizers.load(dir, model))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(model.toString())
                .hasMessageContaining("not supported yet")
                .hasMessageContaining("tokenizer.json");
        assertThatThrownBy(() -> Tokenizers.load(dir, null))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("not supported yet");
    }

    @Test
    void directoryPrefersTokenizerJson() throws IOException {
        copy(TOK512, "tokenizer.bin");
        touch("tokenizer.model");
        assertThat(loaded(dir, null)).isInstanceOf(Llama2cTokenizer.class);
        copy(MINILM, "tokenizer.json");
        assertThat(loaded(dir, null)).isInstanceOf(HfTokenizer.class);
    }

    @Test
    void emptyDirectoryNamesWhatWasLookedFor() {
        assertThatThrownBy(() -> Tokenizers.load(dir, null))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("tokenizer.bin");
    }

    @Test
    void llama2cCheckpointTakesTokenizerBinBesideIt() throws IOException {
        Path checkpoint = touch("model.bin");
        copy(TOK512, "tokenizer.bin");
        copy(TOK512, "tok999.bin");
        assertThat(loaded(checkpoint, null).source()).endsWith("tokenizer.bin");
    }

    @Test
    void llama2cCheckpointTakesTheOneTokBinBesideIt() {
        Path checkpoint = SharedData.file("models/stories260K/stories260K.bin");
        Tokenizer tokenizer = loaded(checkpoint, null);
        assertThat(tokenizer).isInstanceOf(Llama2cTokenizer.class);
        assertThat(tokenizer.source()).endsWith("tok512.bin");
        assertThat(tokenizer.vocabSize()).isEqualTo(512);
    }

    @Test
    void llama2cCheckpointWithSeveralTokBinsIsAmbiguous() throws IOException {
        Path checkpoint = touch("model.bin");
        copy(TOK512, "tok512.bin");
        copy(TOK512, "tok4096.bin");
        assertThatThrownBy(() -> Tokenizers.load(checkpoint, null))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("tok512.bin")
                .hasMessageContaining("tok4096.bin");
    }

    @Test
    void checkpointNamedTokSomethingIsNotItsOwnTokenizer() throws IOException {
        Path checkpoint = copy(TOK512, "tokstories.bin");
        assertThatThrownBy(() -> Tokenizers.load(checkpoint, null))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("tok*.bin beside tokstories.bin");
    }

    @Test
    void otherModelFilesUseTheirDirectory() throws IOException {
        Path checkpoint = touch("model.bin");
        copy(MINILM, "tokenizer.json");
        assertThat(loaded(checkpoint, null)).isInstanceOf(HfTokenizer.class);
        Path safetensors = touch("model.safetensors");
        assertThat(loaded(safetensors, null)).isInstanceOf(HfTokenizer.class);
    }

    @Test
    void missingModelPath() {
        Path missing = dir.resolve("absent");
        assertThatThrownBy(() -> Tokenizers.load(missing, null))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> Tokenizers.load(null, null)).isInstanceOf(DoraException.class);
    }
}
