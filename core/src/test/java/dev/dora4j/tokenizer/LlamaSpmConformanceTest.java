package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.testing.SharedData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * llama.cpp's test vectors for the Llama 2 SentencePiece vocabulary, run through llama2.c's algorithm
 * on the llama2.c export of the same vocabulary. Both split text into UTF-8 characters, fall back to
 * byte tokens for characters the vocabulary lacks and merge by piece score, so they agree on all 46
 * strings: whitespace runs, newlines and tabs, emoji and other byte-fallback characters, Cyrillic,
 * Khmer and CJK text, digits and punctuation runs. They differ by design on text that contains U+2581
 * (the character SentencePiece writes for a space), which SentencePiece reads as a space and llama2.c,
 * whose export turned every U+2581 in the vocabulary into a space, encodes as three byte tokens.
 */
class LlamaSpmConformanceTest {
    /**
     * Strings (by index in the .inp file) where llama2.c is known to differ from SentencePiece, with the
     * reason. None of the 46 do; an entry here must really differ, which the test checks.
     */
    private static final Map<Integer, String> DIVERGENT = Map.of();

    private static GgmlVocabVectors vectors;
    private static Llama2cTokenizer llama2;

    @BeforeAll
    static void load() {
        vectors = GgmlVocabVectors.load("ggml-vocab-llama-spm");
        llama2 = Llama2cTokenizer.load(SharedData.file("tokenizers/llama2/tokenizer.bin"), 32000);
    }

    @Test
    void theVectorFileHas46Strings() {
        assertThat(vectors.size()).isEqualTo(46);
        assertThat(vectors.inputs().get(0)).isEqualTo("ied 4 ½ months");
        assertThat(vectors.inputs().get(2)).isEmpty();
        assertThat(vectors.inputs().get(7)).isEqualTo("\n");
    }

    @Test
    void encodesLikeSentencePiece() {
        List<String> mismatches = new ArrayList<>();
        int matched = 0;
        for (int i = 0; i < vectors.size(); i++) {
            int[] ids = llama2.encode(vectors.inputs().get(i), false, false);
            boolean same = Arrays.equals(ids, vectors.expected().get(i));
            if (DIVERGENT.containsKey(i)) {
                assertThat(same).as("string %d is listed as divergent (%s) but matches", i, DIVERGENT.get(i))
                        .isFalse();
            } else if (same) {
                matched++;
            } else {
                mismatches.add(i + " " + printable(vectors.inputs().get(i)) + ": expected "
                        + Arrays.toString(vectors.expected().get(i)) + ", got " + Arrays.toString(ids));
            }
        }
        assertThat(mismatches).isEmpty();
        assertThat(matched).isEqualTo(vectors.size() - DIVERGENT.size());
    }

    @Test
    void bosAndEosWrapTheSameIds() {
        for (int i = 0; i < vectors.size(); i++) {
            int[] expected = vectors.expected().get(i);
            int[] withBoth = new int[expected.length + 2];
            withBoth[0] = 1;
            System.arraycopy(expected, 0, withBoth, 1, expected.length);
            withBoth[withBoth.length - 1] = 2;
            if (!DIVERGENT.containsKey(i)) {
                assertThat(llama2.encode(vectors.inputs().get(i), true, true)).containsExactly(withBoth);
            }
        }
    }

    @Test
    void decodeInvertsEncode() {
        for (String text : vectors.inputs()) {
            assertThat(llama2.decode(llama2.encode(text, true, false))).as(printable(text)).isEqualTo(text);
            assertThat(llama2.decode(llama2.encode(text, false, true))).as(printable(text)).isEqualTo(text);
        }
    }

    @Test
    void streamingDecodeReassemblesSplitCharacters() {
        for (String text : vectors.inputs()) {
            StreamDecoder stream = llama2.streamDecoder();
            StringBuilder out = new StringBuilder();
            for (int id : llama2.encode(text, true, false)) {
                String piece = stream.next(id);
                assertThat(piece).doesNotContain("\uFFFD");
                out.append(piece);
            }
            out.append(stream.flush());
            assertThat(out.toString()).as(printable(text)).isEqualTo(text);
        }
    }

    /**
     * The divergence by design. The SentencePiece ids come from sentencepiece 0.1.97 on
     * tokenizers/llama2/tokenizer.model; SentencePiece would decode them with spaces for the U+2581.
     */
    @Test
    void literalMetaSpaceIsBytesHereAndASpaceInSentencePiece() {
        Map<String, int[]> sentencePiece = Map.of(
                "a\u2581b", new int[] {263, 289},
                "\u2581Hello", new int[] {29871, 15043},
                "x \u2581\u2581y", new int[] {921, 259, 343});
        int[] metaSpaceBytes = {229, 153, 132};
        assertThat(llama2.encode("a\u2581b", false, false)).containsExactly(263, 229, 153, 132, 29890);
        assertThat(llama2.encode("\u2581Hello", false, false)).containsExactly(29871, 229, 153, 132, 10994);
        sentencePiece.forEach((text, ids) -> {
            int[] ours = llama2.encode(text, false, false);
            assertThat(ours).as(text).isNotEqualTo(ids).containsSequence(metaSpaceBytes);
            assertThat(llama2.decode(ours)).isEqualTo(text);
        });
    }

    private static String printable(String text) {
        return "\"" + text.replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
