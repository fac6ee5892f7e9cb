package dev.dora4j.autograd;

import static dev.dora4j.autograd.TransformerOpsGradTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class TransformerOpsReferenceTest {
    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Test
    void embeddingCopiesRowsAndRejectsBadIds() {
        Tensor table = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2);
        Tensor y = TransformerOps.embedding(Tape.inference(), new int[] {2, 0, 2}, table);
        assertThat(y.shape()).containsExactly(3, 2);
        assertThat(y.data()).containsExactly(20, 21, 0, 1, 20, 21);
        assertThatThrownBy(() -> TransformerOps.embedding(Tape.inference(), new int[] {1, 3}, table))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token id 3");
        assertThatThrownBy(() -> TransformerOps.embedding(Tape.inference(), new int[] {-1}, table))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token id -1");
    }

    @Test
    void embeddingScatterAddsRepeatedIds() {
        Tensor table = Tensor.zeros(true, 4, 3);
        Tape tape = Tape.training();
        Tensor y = TransformerOps.embedding(tape, new int[] {1, 3, 1}, table);
        tape.backward(Ops.weightedSum(tape, y, new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}));
        assertThat(table.grad()).containsExactly(0, 0, 0, 8, 10, 12, 0, 0, 0, 4, 5, 6);
    }

    @Test
    void rmsNormMatchesDoubleReference() {
        SplittableRandom rng = new SplittableRandom(1);
        int tokens = 7, dim = 37;
        Tensor x = random(rng, false, 3, tokens, dim), w = random(rng, false, 2, dim);
        float eps = 1e-5f;
        double[] expected = new double[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) x.data()[t * dim + i] * x.data()[t * dim + i];
            double inv = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) expected[t * dim + i] = x.data()[t * dim + i] * inv * w.data()[i];
        }
        float[] y = TransformerOps.rmsNorm(Tape.inference(), x, w, eps).data();
        Approx.assertClose("rmsNorm", y, toFloat(expected), 1e-6);
    }

    @Test
    void ropeMatchesRotateHalfFormula() {
        SplittableRandom rng = new SplittableRandom(2);
        int heads = 3, d = 8, tokens = 5;
        RopeTable table = RopeTable.create(d, 100, 10000, RopeScaling.linear(2));
        int[] positions = {0, 7, 99, 3, 3};
        Tensor x = random(rng, false, 1, tokens, heads * d);
        double[] expected = new double[tokens * heads * d];
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int off = t * heads * d + h * d;
                double[] cos = new double[d], sin = new double[d], rotated = new double[d];
                for (int i = 0; i < d; i++) {
                    cos[i] = table.cos(positions[t], i % (d / 2));
                    sin[i] = table.sin(positions[t], i % (d / 2));
                    // rotate_half: cat(-x2, x1)
                    rotated[i] = i < d / 2 ? -x.data()[off + i + d / 2] : x.data()[off + i - d / 2];
                }
                for (int i = 0; i < d; i++) expected[off + i] = x.data()[off + i] * cos[i] + rotated[i] * sin[i];
            }
        }
        Approx.assertClose("rope", TransformerOps.rope(Tape.inference(), x, heads, table, positions).data(),
                toFloat(expected), 1e-6);
        assertThatThrownBy(() -> TransformerOps.rope(Tape.inference(), x, heads, table, new int[] {0, 1, 2, 3, 100}))
                .hasMessageContaining("position 100");
        assertThatThrownBy(() -> TransformerOps.rope(Tape.inference(), x, 2, table, positions))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void swigluMatchesDoubleReference() {
        SplittableRandom rng = new SplittableRandom(3);
        Tensor gate = random(rng, false, 12, 3, 29), up = random(rng, false, 2, 3, 29);
        double[] expected = new double[gate.numel()];
        for (int i = 0; i < expected.length; i++) {
            double g = gate.data()[i];
            expected[i] = g / (1 + Math.exp(-g)) * up.data()[i];
        }
        Approx.assertClose("swiglu", TransformerOps.swiglu(Tape.inference(), gate, up).data(), toFloat(expected), 1e-6);
    }

    @Test
    void logitsMatchDoubleReference() {
        SplittableRandom rng = new SplittableRandom(4);
        Tensor hidden = random(rng, false, 1, 9, 13), head = random(rng, false, 1, 31, 13);
        double[] expected = new double[9 * 31];
        for (int t = 0; t < 9; t++) {
            for (int v = 0; v < 31; v++) {
                double s = 0;
                for (int i = 0; i < 13; i++) s += (double) hidden.data()[t * 13 + i] * head.data()[v * 13 + i];
                expected[t * 31 + v] = s;
            }
        }
        Approx.assertClose("logits", TransformerOps.logits(hidden, head), toFloat(expected), 1e-6);
    }

    /** Each op, run on trainable inputs with recording on and off. */
    private static List<Function<Tape, Tensor>> opsOnTrainableInputs() {
        SplittableRandom rng = new SplittableRandom(5);
        Tensor table = random(rng, true, 1, 10, 12), x = random(rng, true, 2, 6, 12), w = random(rng, true, 1, 12);
        Tensor q = random(rng, true, 1, 6, 12), k = random(rng, true, 1, 6, 6), v = random(rng, true, 1, 6, 6);
        Tensor head = random(rng, true, 1, 17, 12);
        RopeTable rope = RopeTable.create(6, 8, 10000, null);
        int[] positions = {0, 1, 2, 0, 1, 2};
        int[] targets = {1, -100, 16, 0, 3, -100};
        return List.of(
                tape -> TransformerOps.embedding(tape, new int[] {3, 9, 3, 0, 1, 2}, table),
                tape -> TransformerOps.rmsNorm(tape, x, w, 1e-6f),
                tape -> TransformerOps.rope(tape, q, 2, rope, positions),
                tape -> TransformerOps.causalAttention(tape, q, k, v, 2, 3, 2, 1, 6),
                tape -> TransformerOps.swiglu(tape, x, q),
                tape -> TransformerOps.crossEntropyWithHead(tape, x, head, targets, 4f),
                tape -> TransformerOps.crossEntropyWithHead(tape, x, head, targets, 4f, 1, 0));
    }

    @Test
    void forwardIsIdenticalWithRecordingOnAndOff() {
        for (Function<Tape, Tensor> op : opsOnTrainableInputs()) {
            Tape training = Tape.training();
            Tensor recorded = op.apply(training);
            Tensor plain = op.apply(Tape.inference());
            assertThat(recorded.requiresGrad()).isTrue();
            assertThat(training.size()).isEqualTo(1);
            assertThat(plain.requiresGrad()).isFalse();
            assertThat(recorded.data()).isEqualTo(plain.data());
        }
    }

    @Test
    void backwardAccumulatesIntoExistingGradients() {
        SplittableRandom rng = new SplittableRandom(6);
        Tensor x = random(rng, true, 1, 4, 6), w = random(rng, true, 1, 6);
        float[] upstream = new float[24];
        for (int i = 0; i < upstream.length; i++) upstream[i] = (float) rng.nextDouble();
        Tape tape = Tape.training();
        tape.backward(Ops.weightedSum(tape, TransformerOps.rmsNorm(tape, x, w, 1e-6f), upstream));
        float[] once = x.grad().clone(), onceW = w.grad().clone();
        tape.backward(Ops.weightedSum(tape, TransformerOps.rmsNorm(tape, x, w, 1e-6f), upstream));
        for (int i = 0; i < once.length; i++) once[i] *= 2;
        for (int i = 0; i < onceW.length; i++) onceW[i] *= 2;
        Approx.assertClose("x grad", x.grad(), once, 1e-6);
        Approx.assertClose("weight grad", w.grad(), onceW, 1e-6);
    }

    @Test
    void frozenInputsRecordNothing() {
        SplittableRandom rng = new SplittableRandom(7);
        Tensor x = random(rng, false, 1, 6, 12), w = random(rng, false, 1, 12), head = random(rng, false, 1, 5, 12);
        Tensor k = random(rng, false, 1, 6, 6);
        Tape tape = Tape.training();
        List<Tensor> outputs = List.of(
                TransformerOps.embedding(tape, new int[] {0, 1}, x),
                TransformerOps.rmsNorm(tape, x, w, 1e-6f),
                TransformerOps.rope(tape, x, 2, RopeTable.create(6, 4, 10000, null), new int[] {0, 1, 2, 3, 0, 1}),
                TransformerOps.causalAttention(tape, x, k, k, 1, 6, 2, 1, 6),
                TransformerOps.swiglu(tape, x, x),
                TransformerOps.crossEntropyWithHead(tape, x, head, new int[] {0, 1, 2, 3, 4, -100}, 5f));
        for (Tensor y : outputs) assertThat(y.requiresGrad()).isFalse();
        assertThat(tape.size()).isZero();
    }

    @Test
    void frozenWeightGetsNoGradientBuffer() {
        SplittableRandom rng = new SplittableRandom(8);
        Tensor x = random(rng, true, 1, 3, 5), w = random(rng, false, 1, 5), head = random(rng, false, 1, 4, 5);
        Tape tape = Tape.training();
        Tensor loss = TransformerOps.crossEntropyWithHead(tape, TransformerOps.rmsNorm(tape, x, w, 1e-6f), head,
                new int[] {1, 2, 3}, 3f);
        tape.backward(loss);
        assertThat(w.grad()).isNull();
        assertThat(head.grad()).isNull();
        assertThat(x.grad()).isNotEqualTo(new float[15]);
    }
}
