package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.dora4j.DoraException;
import dev.dora4j.testing.SharedData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class Llama2cTokenizerTest {
    private static Llama2cTokenizer tok512;
    private static JsonNode golden;

    @BeforeAll
    static void load() throws IOException {
        tok512 = Llama2cTokenizer.load(SharedData.file("models/stories260K/tok512.bin"));
        golden = JsonMapper.builder().build().readTree(
                SharedData.file("models/stories260K/golden_greedy_256.json").toFile());
    }

    private static int[] goldenIds() {
        int[] generated = golden.path("generated_ids").valueStream().mapToInt(JsonNode::intValue).toArray();
        return IntStream.concat(IntStream.of(Llama2cTokenizer.BOS), IntStream.of(generated)).toArray();
    }

    @Test
    void readsTheStories260kVocabulary() {
        assertThat(tok512.vocabSize()).isEqualTo(512);
        assertThat(tok512.bosId()).isEqualTo(1);
        assertThat(tok512.eosId()).isEqualTo(2);
        assertThat(tok512.addBosByDefault()).isTrue();
        assertThat(tok512.piece(0)).isEqualTo("<unk>");
        assertThat(tok512.piece(1)).isEqualTo("\n<s>\n");
        assertThat(tok512.piece(3 + 'A')).isEqualTo("<0x41>");
        assertThat(tok512.piece(259)).isEqualTo(" t");
        assertThat(tok512.source()).endsWith("tok512.bin");
    }

    @Test
    void decodesTheGoldenGreedyContinuation() {
        String text = golden.path("text").textValue();
        assertThat(tok512.decode(goldenIds())).isEqualTo(text);
    }

    @Test
    void pieceByPieceDecodingAsRunCPrintsIt() {
        int[] ids = goldenIds();
        StringBuilder printed = new StringBuilder();
        for (int i = 1; i < ids.length; i++) {
            printed.append(tok512.decodeToken(ids[i - 1], ids[i]));
        }
        assertThat(printed.toString()).isEqualTo(golden.path("text").textValue());
    }

    @Test
    void streamDecoderGivesTheSameText() {
        StreamDecoder stream = tok512.streamDecoder();
        StringBuilder printed = new StringBuilder();
        for (int id : goldenIds()) {
            printed.append(stream.next(id));
        }
        printed.append(stream.flush());
        assertThat(printed.toString()).isEqualTo(golden.path("text").textValue());
    }

    @Test
    void encodesWithDummyPrefixAndOptionalBosEos() {
        int[] plain = tok512.encode("Once upon a time", false, false);
        assertThat(plain).startsWith(403, 407);
        assertThat(tok512.encode("Once upon a time", true, true))
                .startsWith(1, 403, 407)
                .endsWith(2)
                .hasSize(plain.length + 2);
        assertThat(tok512.encode("", false, false)).isEmpty();
        assertThat(tok512.encode("", true, true)).containsExactly(1, 2);
        assertThat(tok512.decode(plain)).isEqualTo("Once upon a time");
    }

    @Test
    void unknownCharactersFallBackToByteTokens() {
        String text = "naïve 🦙";
        int[] ids = tok512.encode(text, false, false);
        for (byte b : "🦙".getBytes(StandardCharsets.UTF_8)) {
            assertThat(ids).contains((b & 0xFF) + 3);
        }
        assertThat(tok512.decode(ids)).isEqualTo(text);
    }

    @Test
    void goldenTextRoundTrips() {
        String text = golden.path("text").textValue();
        assertThat(tok512.decode(tok512.encode(text, true, false))).isEqualTo(text);
    }

    @Test
    void decodeTokenDropsTheLeadingSpaceOnlyAtTheStart() {
        int the = tok512.encode("The", false, false)[0];
        assertThat(tok512.piece(the)).isEqualTo(" The");
        assertThat(tok512.decodeToken(1, the)).isEqualTo("The");
        assertThat(tok512.decodeToken(-1, the)).isEqualTo("The");
        assertThat(tok512.decodeToken(259, the)).isEqualTo(" The");
        assertThat(tok512.decodeToken(259, 2)).isEmpty();
        assertThat(tok512.decodeToken(259, 3 + ' ')).isEqualTo(" ");
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> tok512.decode(new int[] {5, 512}))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("tok512.bin")
                .hasMessageContaining("token id 512");
        assertThatThrownBy(() -> tok512.decodeToken(1, -3))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("token id -3");
    }

    @Test
    void loadsWithTheCheckpointsVocabSize() {
        assertThat(Llama2cTokenizer.load(SharedData.file("models/stories260K/tok512.bin"), 512).vocabSize())
                .isEqualTo(512);
        assertThatThrownBy(() -> Llama2cTokenizer.load(SharedData.file("models/stories260K/tok512.bin"), 500))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("tok512.bin")
                .hasMessageContaining("after the last of 500 tokens");
        assertThatThrownBy(() -> Llama2cTokenizer.load(SharedData.file("models/stories260K/tok512.bin"), 32000))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("tok512.bin")
                .hasMessageContaining("32000 tokens");
    }
}
