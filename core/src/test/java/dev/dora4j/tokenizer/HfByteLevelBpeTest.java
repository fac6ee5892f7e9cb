package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Byte-level BPE, the scheme of GPT-2, Llama 3 and Qwen2, through {@link HfTokenizer}: GPT-2's
 * tokenizer.json rebuilt from llama.cpp's vocab-only GGUF, checked against llama.cpp's GPT-2 vectors.
 */
class HfByteLevelBpeTest {
    @TempDir
    static Path dir;

    private static HfTokenizer gpt2;
    private static GgmlVocabVectors vectors;

    @BeforeAll
    static void load() throws IOException {
        Path gguf = SharedData.file("tokenizers/ggml-vocab/ggml-vocab-gpt-2.gguf");
        Path json = Files.writeString(dir.resolve("tokenizer.json"), GgufVocab.gpt2TokenizerJson(gguf));
        gpt2 = HfTokenizer.load(json);
        vectors = GgmlVocabVectors.load("ggml-vocab-gpt-2");
    }

    @AfterAll
    static void close() {
        gpt2.close();
    }

    @Test
    void vocabularyAndSpecialTokens() {
        assertThat(gpt2.vocabSize()).isEqualTo(50257);
        assertThat(gpt2.bosId()).isEqualTo(-1);
        assertThat(gpt2.eosId()).isEqualTo(-1);
        assertThat(gpt2.addBosByDefault()).isFalse();
        assertThat(gpt2.encode("Hello world", true, true)).containsExactly(15496, 995);
    }

    @Test
    void matchesTheGpt2Vectors() {
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < vectors.size(); i++) {
            int[] ids = gpt2.encode(vectors.inputs().get(i), false, false);
            if (!Arrays.equals(ids, vectors.expected().get(i))) {
                mismatches.add(i + ": expected " + Arrays.toString(vectors.expected().get(i)) + ", got "
                        + Arrays.toString(ids));
            }
        }
        assertThat(vectors.size()).isEqualTo(46);
        assertThat(mismatches).isEmpty();
    }

    @Test
    void decodeInvertsEncode() {
        for (String text : vectors.inputs()) {
            assertThat(gpt2.decode(gpt2.encode(text, false, false))).isEqualTo(text);
        }
    }

    @Test
    void streamingDecodeHoldsBackSplitCharacters() {
        for (String text : vectors.inputs()) {
            StreamDecoder stream = gpt2.streamDecoder();
            StringBuilder out = new StringBuilder();
            for (int id : gpt2.encode(text, false, false)) {
                String piece = stream.next(id);
                assertThat(piece).doesNotContain("\uFFFD");
                out.append(piece);
            }
            assertThat(out.append(stream.flush()).toString()).isEqualTo(text);
        }
    }
}
