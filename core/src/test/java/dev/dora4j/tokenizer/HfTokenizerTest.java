package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
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
 * all-MiniLM-L6-v2's tokenizer.json (BERT uncased WordPiece) through the tokenizers library. Its
 * vocabulary is, id for id, the bert-bge vocabulary of llama.cpp's test vectors, so those are the
 * expected ids.
 */
class HfTokenizerTest {
    private static final String MINILM = "minilm/all-minilm-l6-v2-tokenizer.json";
    private static HfTokenizer minilm;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() {
        minilm = HfTokenizer.load(SharedData.file(MINILM));
    }

    @AfterAll
    static void close() {
        minilm.close();
    }

    @Test
    void runsOffline() {
        if (System.getenv("DJL_OFFLINE") == null) {
            assertThat(System.getProperty(DjlOffline.OFFLINE)).isEqualTo("true");
        }
        if (System.getenv(DjlOffline.OPT_OUT_TRACKING) == null) {
            assertThat(System.getProperty(DjlOffline.OPT_OUT_TRACKING)).isEqualTo("true");
        }
    }

    @Test
    void specialTokensComeFromThePostProcessor() {
        assertThat(minilm.vocabSize()).isEqualTo(30522);
        assertThat(minilm.bosId()).isEqualTo(101);
        assertThat(minilm.eosId()).isEqualTo(102);
        assertThat(minilm.addBosByDefault()).isTrue();
        assertThat(minilm.source()).endsWith("all-minilm-l6-v2-tokenizer.json");
    }

    @Test
    void matchesTheBertBgeVectors() {
        GgmlVocabVectors vectors = GgmlVocabVectors.load("ggml-vocab-bert-bge");
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < vectors.size(); i++) {
            int[] ids = minilm.encode(vectors.inputs().get(i), false, false);
            if (!Arrays.equals(ids, vectors.expected().get(i))) {
                mismatches.add(i + ": expected " + Arrays.toString(vectors.expected().get(i)) + ", got "
                        + Arrays.toString(ids));
            }
        }
        assertThat(vectors.size()).isEqualTo(46);
        assertThat(mismatches).isEmpty();
    }

    @Test
    void encodesSentencesWithClsAndSep() {
        assertThat(minilm.encode("Hello world", true, true)).containsExactly(101, 7592, 2088, 102);
        assertThat(minilm.encode("Hello, world!", true, false)).containsExactly(101, 7592, 1010, 2088, 999);
        assertThat(minilm.encode("Hello world", false, false)).containsExactly(7592, 2088);
        assertThat(minilm.encode("", true, true)).containsExactly(101, 102);
    }

    @Test
    void neitherTruncatesNorPadsWhateverTheJsonSays() {
        String text = "word ".repeat(300);
        assertThat(minilm.encode(text, false, false)).hasSize(300).containsOnly(2773);
        assertThat(minilm.encode("word", false, false)).containsExactly(2773);
    }

    @Test
    void decodesWithoutSpecialTokens() {
        assertThat(minilm.decode(new int[] {101, 7592, 1010, 2088, 999, 102})).isEqualTo("hello, world!");
        assertThat(minilm.decode(minilm.encode("The quick brown fox", true, true)))
                .isEqualTo("the quick brown fox");
        assertThat(minilm.decodeToken(7592, 2088)).isEqualTo(" world");
        assertThat(minilm.decodeToken(-1, 7592)).isEqualTo("hello");
        StreamDecoder stream = minilm.streamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : minilm.encode("unaffable tokenization", true, true)) {
            out.append(stream.next(id));
        }
        assertThat(out.append(stream.flush()).toString()).isEqualTo("unaffable tokenization");
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> minilm.decode(new int[] {7592, 30522}))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("all-minilm-l6-v2-tokenizer.json")
                .hasMessageContaining("token id 30522");
    }

    @Test
    void readsTokenizerConfigBesideIt() throws IOException {
        Files.copy(SharedData.file(MINILM), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "[SEP]", "special": true}, "eos_token": "[PAD]",
                 "add_bos_token": false, "clean_up_tokenization_spaces": true}
                """);
        try (HfTokenizer tokenizer = HfTokenizer.load(dir.resolve("tokenizer.json"))) {
            assertThat(tokenizer.bosId()).isEqualTo(102);
            assertThat(tokenizer.eosId()).isEqualTo(0);
            assertThat(tokenizer.addBosByDefault()).isFalse();
            assertThat(tokenizer.encode("hi", true, true)).containsExactly(102, 7632, 0);
        }
    }

    @Test
    void bertConfigUsesClsAndSep() throws IOException {
        Files.copy(SharedData.file(MINILM), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"cls_token": "[CLS]", "sep_token": "[SEP]", "do_lower_case": true}
                """);
        try (HfTokenizer tokenizer = HfTokenizer.load(dir.resolve("tokenizer.json"))) {
            assertThat(tokenizer.bosId()).isEqualTo(101);
            assertThat(tokenizer.eosId()).isEqualTo(102);
            assertThat(tokenizer.addBosByDefault()).isTrue();
        }
    }

    @Test
    void cleansUpTokenizationSpacesAsTransformersDoes() {
        assertThat(HfTokenizer.cleanUpTokenizationSpaces("i do n't know , it 's fine . ok ?"))
                .isEqualTo("i don't know, it's fine. ok?");
    }

    @Test
    void configNamingAnUnknownTokenIsAnError() throws IOException {
        Files.copy(SharedData.file(MINILM), dir.resolve("tokenizer.json"));
        Path config = Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        assertThatThrownBy(() -> HfTokenizer.load(dir.resolve("tokenizer.json")))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(config.toString())
                .hasMessageContaining("eos_token \"</s>\"");
    }

    @Test
    void malformedJsonNamesFileAndLine() throws IOException {
        Path file = Files.writeString(dir.resolve("tokenizer.json"), "{\n\"model\": {\n\"vocab\": [,]}}");
        assertThatThrownBy(() -> HfTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("line 3");
    }

    @Test
    void jsonThatIsNoTokenizerIsAnError() throws IOException {
        Path file = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0}}}");
        assertThatThrownBy(() -> HfTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("tokenizers library cannot load it");
    }

    @Test
    void missingFileIsAnError() {
        Path file = dir.resolve("absent.json");
        assertThatThrownBy(() -> HfTokenizer.load(file))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining(file.toString());
    }
}
