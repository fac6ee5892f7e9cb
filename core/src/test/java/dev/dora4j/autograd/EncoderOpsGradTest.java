package dev.dora4j.autograd;

import static dev.dora4j.autograd.TransformerOpsGradTest.WIDE_STEP;
import static dev.dora4j.autograd.TransformerOpsGradTest.assertGradients;
import static dev.dora4j.autograd.TransformerOpsGradTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.kernel.Parallel;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The encoder ops through the finite-difference gradient checker, and their forward values against plain loops. */
class EncoderOpsGradTest {
    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12", "7, 33"})
    void layerNormGradients(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(tokens + dim);
        Tensor x = random(rng, true, 2, tokens, dim), w = random(rng, true, 1.5, dim), b = random(rng, true, 1, dim);
        assertGradients(tape -> EncoderOps.layerNorm(tape, x, w, b, 1e-5f), List.of(x, w, b));
    }

    @Test
    void layerNormWithFrozenAffine() {
        SplittableRandom rng = new SplittableRandom(3);
        Tensor x = random(rng, true, 1, 4, 10), w = random(rng, false, 1.5, 10), b = random(rng, false, 1, 10);
        assertGradients(tape -> EncoderOps.layerNorm(tape, x, w, b, 1e-12f), List.of(x));
    }

    @Test
    void layerNormForwardMatchesTheDefinition() {
        SplittableRandom rng = new SplittableRandom(4);
        Tensor x = random(rng, false, 3, 3, 7), w = random(rng, false, 1.5, 7), b = random(rng, false, 1, 7);
        float[] y = EncoderOps.layerNorm(Tape.inference(), x, w, b, 1e-5f).data();
        for (int r = 0; r < 3; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < 7; i++) mean += x.data()[r * 7 + i] / 7.0;
            for (int i = 0; i < 7; i++) var += Math.pow(x.data()[r * 7 + i] - mean, 2) / 7.0;
            for (int i = 0; i < 7; i++) {
                double want = (x.data()[r * 7 + i] - mean) / Math.sqrt(var + 1e-5) * w.data()[i] + b.data()[i];
                assertThat((double) y[r * 7 + i]).isCloseTo(want, org.assertj.core.api.Assertions.within(1e-5));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12", "7, 33"})
    void geluGradient(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(10 + tokens);
        Tensor x = random(rng, true, 4, tokens, dim);
        assertGradients(tape -> EncoderOps.gelu(tape, x), List.of(x));
    }

    @Test
    void geluValues() {
        // 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2), the latter keeping the far negative tail accurate
        assertThat(EncoderOps.gelu(1.0)).isCloseTo(0.8413447460685429, org.assertj.core.api.Assertions.within(1e-15));
        assertThat(EncoderOps.gelu(-0.5)).isCloseTo(-0.15426876936299344, org.assertj.core.api.Assertions.within(1e-15));
        assertThat(EncoderOps.gelu(3.0)).isCloseTo(2.99595030590511, org.assertj.core.api.Assertions.within(1e-14));
        assertThat(EncoderOps.gelu(-10.0)).isCloseTo(-7.619853024160593e-23, org.assertj.core.api.Assertions.within(1e-35));
    }

    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12"})
    void tanhGradient(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(20 + tokens);
        Tensor x = random(rng, true, 2, tokens, dim);
        assertGradients(tape -> EncoderOps.tanh(tape, x), List.of(x));
    }

    @ParameterizedTest(name = "lengths={0} heads={1} headDim={2}")
    @CsvSource({"'1', 2, 4", "'3', 4, 2", "'3 1 5', 2, 4", "'2 7', 3, 6"})
    void bidirectionalAttentionGradients(String lengths, int heads, int headDim) {
        int[] offsets = offsets(lengths);
        int tokens = offsets[offsets.length - 1];
        SplittableRandom rng = new SplittableRandom(30 + tokens + heads);
        Tensor q = random(rng, true, 1.5, tokens, heads * headDim);
        Tensor k = random(rng, true, 1.5, tokens, heads * headDim);
        Tensor v = random(rng, true, 1, tokens, heads * headDim);
        assertGradients(tape -> EncoderOps.bidirectionalAttention(tape, q, k, v, offsets, heads, headDim), List.of(q, k, v));
    }

    @ParameterizedTest(name = "trainable q={0} k={1} v={2}")
    @CsvSource({"true, false, true", "false, true, false", "false, false, true"})
    void bidirectionalAttentionWithSomeInputsFrozen(boolean qt, boolean kt, boolean vt) {
        SplittableRandom rng = new SplittableRandom(40);
        int[] offsets = {0, 4, 6};
        Tensor q = random(rng, qt, 1.5, 6, 8), k = random(rng, kt, 1.5, 6, 8), v = random(rng, vt, 1, 6, 8);
        List<Tensor> params = new ArrayList<>();
        for (Tensor t : List.of(q, k, v)) if (t.requiresGrad()) params.add(t);
        assertGradients(WIDE_STEP, tape -> EncoderOps.bidirectionalAttention(tape, q, k, v, offsets, 2, 4), params);
    }

    @Test
    void bidirectionalAttentionMatchesLoopsAndLongSequencesSpanBlocks() {
        SplittableRandom rng = new SplittableRandom(41);
        int heads = 2, d = 3;
        int[] offsets = {0, 70, 75, 205};
        int tokens = 205, cols = heads * d;
        Tensor q = random(rng, false, 1.5, tokens, cols), k = random(rng, false, 1.5, tokens, cols);
        Tensor v = random(rng, false, 1, tokens, cols);
        float[] out = EncoderOps.bidirectionalAttention(Tape.inference(), q, k, v, offsets, heads, d).data();
        for (int b = 0; b < 3; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = offsets[b]; t < offsets[b + 1]; t++) {
                    double[] s = new double[offsets[b + 1] - offsets[b]];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < s.length; j++) {
                        for (int i = 0; i < d; i++) s[j] += q.data()[t * cols + h * d + i] * k.data()[(offsets[b] + j) * cols + h * d + i];
                        s[j] /= Math.sqrt(d);
                        max = Math.max(max, s[j]);
                    }
                    for (int j = 0; j < s.length; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int i = 0; i < d; i++) {
                        double o = 0;
                        for (int j = 0; j < s.length; j++) o += s[j] / sum * v.data()[(offsets[b] + j) * cols + h * d + i];
                        assertThat((double) out[t * cols + h * d + i]).as("b %d h %d t %d", b, h, t)
                                .isCloseTo(o, org.assertj.core.api.Assertions.within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void bidirectionalAttentionDoesNotDependOnTheThreadCount() {
        SplittableRandom rng = new SplittableRandom(42);
        int[] offsets = {0, 9, 12, 30, 31};
        Tensor q = random(rng, true, 1.5, 31, 8), k = random(rng, true, 1.5, 31, 8), v = random(rng, true, 1, 31, 8);
        float[] w = random(rng, false, 1, 31, 8).data();
        int before = Parallel.threads();
        List<float[]> runs = new ArrayList<>();
        try {
            for (int threads : new int[] {1, 3}) {
                Parallel.setThreads(threads);
                for (Tensor t : List.of(q, k, v)) t.zeroGrad();
                Tape tape = Tape.training();
                Tensor out = EncoderOps.bidirectionalAttention(tape, q, k, v, offsets, 2, 4);
                tape.backward(Ops.weightedSum(tape, out, w));
                runs.add(out.data());
                runs.add(q.grad().clone());
                runs.add(k.grad().clone());
                runs.add(v.grad().clone());
            }
        } finally {
            Parallel.setThreads(before);
        }
        for (int i = 0; i < 4; i++) assertThat(runs.get(4 + i)).containsExactly(runs.get(i));
    }

    @Test
    void offsetsAreChecked() {
        Tensor x = Tensor.of(new float[12], 3, 4);
        assertThatThrownBy(() -> EncoderOps.meanPool(Tape.inference(), x, new int[] {0, 2})).hasMessageContaining("end at 2");
        assertThatThrownBy(() -> EncoderOps.meanPool(Tape.inference(), x, new int[] {0, 0, 3})).hasMessageContaining("empty");
        assertThatThrownBy(() -> EncoderOps.meanPool(Tape.inference(), x, new int[] {1, 3})).hasMessageContaining("offsets[0]");
        assertThatThrownBy(() -> EncoderOps.bidirectionalAttention(Tape.inference(), x, x, x, new int[] {0, 4}, 1, 4))
                .hasMessageContaining("end at 4");
    }

    @Test
    void meanPoolAndSelectRowsGradients() {
        SplittableRandom rng = new SplittableRandom(50);
        Tensor h = random(rng, true, 1, 9, 5);
        int[] offsets = {0, 2, 3, 9};
        assertGradients(tape -> EncoderOps.meanPool(tape, h, offsets), List.of(h));
        assertGradients(tape -> EncoderOps.selectRows(tape, h, new int[] {0, 2, 3, 2}), List.of(h));
        float[] pooled = EncoderOps.meanPool(Tape.inference(), h, offsets).data();
        for (int i = 0; i < 5; i++) {
            float want = (h.data()[i] + h.data()[5 + i]) / 2;
            assertThat(pooled[i]).isEqualTo(want);
            assertThat(pooled[5 + i]).isEqualTo(h.data()[10 + i]);
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 2", "4, 3", "6, 5"})
    void crossEntropyGradients(int rows, int classes) {
        SplittableRandom rng = new SplittableRandom(60 + rows);
        Tensor logits = random(rng, true, 3, rows, classes);
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = r % 4 == 3 ? -100 : (r * 7 + 1) % classes;
        assertGradients(WIDE_STEP, tape -> EncoderOps.crossEntropy(tape, logits, targets, 3f), List.of(logits));
    }

    @Test
    void crossEntropyValue() {
        Tensor logits = Tensor.of(new float[] {1, 2, 3, 0, 0, 0, 5, 5, 5}, 3, 3);
        float loss = EncoderOps.crossEntropy(Tape.inference(), logits, new int[] {2, -100, 0}, 2f).data()[0];
        double want = (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3 + Math.log(3)) / 2;
        assertThat((double) loss).isCloseTo(want, org.assertj.core.api.Assertions.within(1e-7));
        assertThatThrownBy(() -> EncoderOps.crossEntropy(Tape.inference(), logits, new int[] {3, 0, 0}, 1f))
                .hasMessageContaining("target 3");
    }

    @Test
    void encoderLayerChainGradients() {
        // embeddings -> LayerNorm -> attention -> GELU -> pooled tanh: the ops composed as a BERT layer uses them
        SplittableRandom rng = new SplittableRandom(70);
        Tensor table = random(rng, true, 1, 11, 8);
        Tensor w = random(rng, true, 1.2, 8), b = random(rng, true, 0.5, 8);
        int[] ids = {1, 4, 4, 9, 0, 10, 3};
        int[] offsets = {0, 3, 7};
        assertGradients(tape -> {
            Tensor x = EncoderOps.layerNorm(tape, TransformerOps.embedding(tape, ids, table), w, b, 1e-12f);
            Tensor a = EncoderOps.bidirectionalAttention(tape, x, x, x, offsets, 2, 4);
            Tensor g = EncoderOps.gelu(tape, Ops.add(tape, a, x));
            return EncoderOps.tanh(tape, EncoderOps.meanPool(tape, g, offsets));
        }, List.of(table, w, b));
    }

    static int[] offsets(String lengths) {
        String[] parts = lengths.trim().split("\\s+");
        int[] offsets = new int[parts.length + 1];
        for (int i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i] + Integer.parseInt(parts[i]);
        return offsets;
    }
}
