package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.testing.SharedData;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The queue-based merge against a line-for-line port of run.c's rescanning loop. */
class ScoredPairMergeTest {

    /** run.c's merge loop: rescan all pairs, take the first best score above -1e10, repeat. */
    private static int[] runCMerge(Llama2cTokenizerFile vocab, Map<String, Integer> ids, int[] tokens) {
        int[] t = tokens.clone();
        int n = t.length;
        while (true) {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i < n - 1; i++) {
                Integer id = ids.get(vocab.pieces()[t[i]] + vocab.pieces()[t[i + 1]]);
                if (id != null && vocab.scores()[id] > bestScore) {
                    bestScore = vocab.scores()[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx == -1) {
                return Arrays.copyOf(t, n);
            }
            t[bestIdx] = bestId;
            System.arraycopy(t, bestIdx + 2, t, bestIdx + 1, n - bestIdx - 2);
            n--;
        }
    }

    private static void compareOnRandomSequences(String file, long seed, int sequences, int maxLength) {
        Llama2cTokenizerFile vocab = Llama2cTokenizerFile.read(SharedData.file(file), -1);
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < vocab.pieces().length; i++) {
            ids.putIfAbsent(vocab.pieces()[i], i);
        }
        ScoredPairMerge merge = new ScoredPairMerge(vocab.pieces(), vocab.scores(), ids);
        int[] singleChars = Arrays.stream(vocab.pieces())
                .filter(p -> p.length() == 1)
                .mapToInt(ids::get)
                .toArray();
        Random random = new Random(seed);
        for (int s = 0; s < sequences; s++) {
            int[] tokens = new int[random.nextInt(maxLength + 1)];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(4) == 0
                        ? random.nextInt(vocab.pieces().length)
                        : singleChars[random.nextInt(singleChars.length)];
            }
            assertThat(merge.merge(tokens, tokens.length))
                    .as("%s, sequence %s", file, Arrays.toString(tokens))
                    .containsExactly(runCMerge(vocab, ids, tokens));
        }
    }

    @Test
    void sameMergesAsRunCOnTheStoriesVocabulary() {
        compareOnRandomSequences("models/stories260K/tok512.bin", 1, 2000, 40);
    }

    @Test
    void sameMergesAsRunCOnTheLlama2Vocabulary() {
        compareOnRandomSequences("tokenizers/llama2/tokenizer.bin", 2, 1000, 40);
    }

    @Test
    void negativeZeroTiesWithZeroAsInC() {
        String[] pieces = {"a", "b", "ab", "bb"};
        float[] scores = {0, 0, -0.0f, 0.0f};
        Map<String, Integer> ids = Map.of("a", 0, "b", 1, "ab", 2, "bb", 3);
        ScoredPairMerge merge = new ScoredPairMerge(pieces, scores, ids);
        assertThat(merge.merge(new int[] {0, 1, 1}, 3)).containsExactly(2, 1);
    }
}
