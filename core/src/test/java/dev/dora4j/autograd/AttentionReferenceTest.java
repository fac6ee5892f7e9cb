package dev.dora4j.autograd;

import static dev.dora4j.autograd.TransformerOpsGradTest.random;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Causal GQA attention against a double-precision implementation with the full masked softmax matrix. */
class AttentionReferenceTest {
    private record Sizes(int batch, int seqLen, int heads, int kvHeads, int d) {
        int tokens() {
            return batch * seqLen;
        }
    }

    /** The full [seqLen, seqLen] probabilities of (b, h), −inf above the diagonal before the softmax. */
    private static double[][] probabilities(Sizes s, double[] q, double[] k, int b, int h) {
        int kvh = h / (s.heads() / s.kvHeads());
        double[][] p = new double[s.seqLen()][s.seqLen()];
        for (int t = 0; t < s.seqLen(); t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < s.seqLen(); j++) {
                double score = Double.NEGATIVE_INFINITY;
                if (j <= t) {
                    score = 0;
                    for (int i = 0; i < s.d(); i++) {
                        score += q[(b * s.seqLen() + t) * s.heads() * s.d() + h * s.d() + i]
                                * k[(b * s.seqLen() + j) * s.kvHeads() * s.d() + kvh * s.d() + i];
                    }
                    score /= Math.sqrt(s.d());
                }
                p[t][j] = score;
                max = Math.max(max, score);
            }
            double sum = 0;
            for (int j = 0; j < s.seqLen(); j++) sum += p[t][j] = Math.exp(p[t][j] - max);
            for (int j = 0; j < s.seqLen(); j++) p[t][j] /= sum;
        }
        return p;
    }

    private static double[] forward(Sizes s, double[] q, double[] k, double[] v) {
        double[] out = new double[s.tokens() * s.heads() * s.d()];
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.heads(); h++) {
                int kvh = h / (s.heads() / s.kvHeads());
                double[][] p = probabilities(s, q, k, b, h);
                for (int t = 0; t < s.seqLen(); t++) {
                    for (int j = 0; j < s.seqLen(); j++) {
                        for (int i = 0; i < s.d(); i++) {
                            out[(b * s.seqLen() + t) * s.heads() * s.d() + h * s.d() + i] +=
                                    p[t][j] * v[(b * s.seqLen() + j) * s.kvHeads() * s.d() + kvh * s.d() + i];
                        }
                    }
                }
            }
        }
        return out;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static double weighted(double[] y, float[] w) {
        double s = 0;
        for (int i = 0; i < y.length; i++) s += y[i] * w[i];
        return s;
    }

    /** ∂(Σ w ⊙ out)/∂x by central differences of the double forward; which: 0 = q, 1 = k, 2 = v. */
    private static float[] numericGradient(Sizes s, double[][] qkv, int which, float[] w) {
        double[] x = qkv[which];
        double[] g = new double[x.length];
        double h = 1e-5;
        for (int i = 0; i < x.length; i++) {
            double original = x[i];
            x[i] = original + h;
            double plus = weighted(forward(s, qkv[0], qkv[1], qkv[2]), w);
            x[i] = original - h;
            double minus = weighted(forward(s, qkv[0], qkv[1], qkv[2]), w);
            x[i] = original;
            g[i] = (plus - minus) / (2 * h);
        }
        return toFloat(g);
    }

    @ParameterizedTest(name = "batch={0} seqLen={1} heads={2} kvHeads={3} headDim={4}")
    @CsvSource({
        "1, 1, 4, 4, 2",
        "2, 3, 4, 2, 4",
        "1, 7, 4, 1, 6",
        "3, 5, 6, 3, 8",
        "2, 17, 4, 2, 16",
    })
    void forwardAndGradientsMatchDoubleReference(int batch, int seqLen, int heads, int kvHeads, int d) {
        Sizes s = new Sizes(batch, seqLen, heads, kvHeads, d);
        SplittableRandom rng = new SplittableRandom(seqLen * 13L + d);
        Tensor q = random(rng, true, 2, s.tokens(), heads * d);
        Tensor k = random(rng, true, 2, s.tokens(), kvHeads * d);
        Tensor v = random(rng, true, 1, s.tokens(), kvHeads * d);
        double[][] qkv = {toDouble(q.data()), toDouble(k.data()), toDouble(v.data())};

        Tape tape = Tape.training();
        Tensor out = TransformerOps.causalAttention(tape, q, k, v, batch, seqLen, heads, kvHeads, d);
        Approx.assertClose("out", out.data(), toFloat(forward(s, qkv[0], qkv[1], qkv[2])), 1e-5);

        float[] w = new float[out.numel()];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextDouble() * 2 - 1);
        tape.backward(Ops.weightedSum(tape, out, w));
        Approx.assertClose("dq", q.grad(), numericGradient(s, qkv, 0, w), 1e-4);
        Approx.assertClose("dk", k.grad(), numericGradient(s, qkv, 1, w), 1e-4);
        Approx.assertClose("dv", v.grad(), numericGradient(s, qkv, 2, w), 1e-4);
    }

    @Test
    void sequencesDoNotSeeEachOther() {
        SplittableRandom rng = new SplittableRandom(9);
        Tensor q = random(rng, false, 1, 6, 8), k = random(rng, false, 1, 6, 4), v = random(rng, false, 1, 6, 4);
        float[] batched = TransformerOps.causalAttention(Tape.inference(), q, k, v, 2, 3, 2, 1, 4).data();
        float[] second = TransformerOps.causalAttention(Tape.inference(),
                Tensor.of(Arrays.copyOfRange(q.data(), 24, 48), 3, 8),
                Tensor.of(Arrays.copyOfRange(k.data(), 12, 24), 3, 4),
                Tensor.of(Arrays.copyOfRange(v.data(), 12, 24), 3, 4), 1, 3, 2, 1, 4).data();
        Approx.assertClose("second sequence", Arrays.copyOfRange(batched, 24, 48), second, 0);
    }

    @Test
    void badShapesAreRejected() {
        Tensor q = Tensor.zeros(false, 6, 8), kv = Tensor.zeros(false, 6, 4);
        assertThatThrownBy(() -> TransformerOps.causalAttention(Tape.inference(), q, kv, kv, 2, 3, 3, 2, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple");
        assertThatThrownBy(() -> TransformerOps.causalAttention(Tape.inference(), q, kv, kv, 2, 4, 2, 1, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q");
        assertThatThrownBy(() -> TransformerOps.causalAttention(Tape.inference(), q, q, kv, 2, 3, 2, 1, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k");
    }
}
