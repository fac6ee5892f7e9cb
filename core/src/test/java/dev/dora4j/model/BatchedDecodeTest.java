package dev.dora4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.nn.LinearForward;
import dev.dora4j.testing.SharedData;
import java.util.Arrays;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * One decode step over several sequences at different positions (prefill chunks and single tokens mixed) gives
 * each sequence the logits of the full recomputation of that sequence alone.
 */
class BatchedDecodeTest {
    static final int[] A = {1, 403, 407, 261, 378, 432, 300, 290, 311};
    static final int[] B = {1, 290, 311, 417};
    static final int[] C = {1, 301, 302, 303, 304, 305};

    @Test
    void sequencesAtDifferentPositionsInOneStepMatchEachAlone() {
        CausalLM model = LlamaLoader.load(SharedData.file("models/stories260K/stories260K.bin"));
        KvCache a = model.newCache(16), b = model.newCache(16), c = model.newCache(16);
        // a: 5 tokens already, b: 1 token, c: nothing yet
        model.decode(Arrays.copyOf(A, 5), a);
        model.decode(Arrays.copyOf(B, 1), b);
        // one step: a continues with 4 tokens (its last chunk), b with 3, c's whole prompt of 6
        int[] ids = concat(Arrays.copyOfRange(A, 5, 9), Arrays.copyOfRange(B, 1, 4), C);
        float[] logits = model.decode(ids, List.of(a, b, c), new int[] {4, 3, 6}, LinearForward.OWN);
        int vocab = model.vocabSize();
        assertThat(logits).hasSize(3 * vocab);
        assertLastRow(model, A, logits, 0);
        assertLastRow(model, B, logits, 1);
        assertLastRow(model, C, logits, 2);
        assertThat(a.length()).isEqualTo(9);
        assertThat(b.length()).isEqualTo(4);
        assertThat(c.length()).isEqualTo(6);
    }

    @Test
    void aStepBeyondTheCacheCapacityIsRefusedAndLeavesTheCacheAsItWas() {
        CausalLM model = LlamaLoader.load(SharedData.file("models/stories260K/stories260K.bin"));
        KvCache a = model.newCache(4);
        model.decode(new int[] {1, 403, 407}, a);
        assertThatThrownBy(() -> model.decode(new int[] {261, 378}, a))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("do not fit its KV cache of 4");
        assertThat(a.length()).isEqualTo(3);
        assertThat(model.cacheBytes(4)).isEqualTo(a.bytes());
    }

    private static void assertLastRow(CausalLM model, int[] seq, float[] logits, int s) {
        int vocab = model.vocabSize();
        float[] full = model.logits(seq, 1, seq.length);
        for (int v = 0; v < vocab; v++) {
            assertThat(logits[s * vocab + v]).as("sequence %d id %d", s, v)
                    .isCloseTo(full[(seq.length - 1) * vocab + v], Offset.offset(2e-4f));
        }
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }
}
