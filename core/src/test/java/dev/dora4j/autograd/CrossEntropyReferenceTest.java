package dev.dora4j.autograd;

import static dev.dora4j.autograd.TransformerOpsGradTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The fused head + cross-entropy against full double-precision logits, log-softmax and its gradient. */
class CrossEntropyReferenceTest {
    private static final int TOKENS = 13, DIM = 24, VOCAB = 300;

    private record Reference(double loss, float[] dHidden, float[] dHead) {}

    private static Reference reference(Tensor hidden, Tensor head, int[] targets, double normalizer) {
        double loss = 0;
        double[] dHidden = new double[TOKENS * DIM], dHead = new double[VOCAB * DIM];
        for (int t = 0; t < TOKENS; t++) {
            if (targets[t] == -100) continue;
            double[] z = new double[VOCAB];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < VOCAB; v++) {
                for (int i = 0; i < DIM; i++) z[v] += (double) hidden.data()[t * DIM + i] * head.data()[v * DIM + i];
                max = Math.max(max, z[v]);
            }
            double sum = 0;
            for (double zv : z) sum += Math.exp(zv - max);
            double lse = max + Math.log(sum);
            loss += lse - z[targets[t]];
            for (int v = 0; v < VOCAB; v++) {
                double g = (Math.exp(z[v] - lse) - (v == targets[t] ? 1 : 0)) / normalizer;
                for (int i = 0; i < DIM; i++) {
                    dHidden[t * DIM + i] += g * head.data()[v * DIM + i];
                    dHead[v * DIM + i] += g * hidden.data()[t * DIM + i];
                }
            }
        }
        return new Reference(loss / normalizer, toFloat(dHidden), toFloat(dHead));
    }

    private static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static int[] targets() {
        int[] targets = new int[TOKENS];
        for (int t = 0; t < TOKENS; t++) targets[t] = t % 4 == 0 ? -100 : (t * 37 + 11) % VOCAB;
        targets[TOKENS - 1] = VOCAB - 1;
        return targets;
    }

    @ParameterizedTest(name = "chunk={0} retain={1}")
    @CsvSource({"1, 0", "4, 0", "128, 0", "1, 1000000", "4, 1000000", "128, 1000000"})
    void lossAndGradientsMatchDoubleReference(int chunk, long retain) {
        SplittableRandom rng = new SplittableRandom(1);
        Tensor hidden = random(rng, true, 2, TOKENS, DIM), head = random(rng, true, 1, VOCAB, DIM);
        int[] targets = targets();
        Reference ref = reference(hidden, head, targets, 20);
        Tape tape = Tape.training();
        Tensor loss = TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 20f, chunk, retain);
        assertThat(loss.numel()).isEqualTo(1);
        assertThat((double) loss.data()[0]).isCloseTo(ref.loss(), within(1e-6 * ref.loss()));
        tape.backward(loss);
        Approx.assertClose("dHidden", hidden.grad(), ref.dHidden(), 1e-5);
        Approx.assertClose("dHead", head.grad(), ref.dHead(), 1e-5);
    }

    @ParameterizedTest(name = "retain={0}")
    @ValueSource(longs = {0, 1000000})
    void upstreamGradientScalesTheBackward(long retain) {
        SplittableRandom rng = new SplittableRandom(2);
        Tensor hidden = random(rng, true, 2, TOKENS, DIM), head = random(rng, true, 1, VOCAB, DIM);
        int[] targets = targets();
        Reference ref = reference(hidden, head, targets, 9);
        Tape tape = Tape.training();
        Tensor loss = TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 9f, 3, retain);
        loss.grad()[0] = 0.5f;
        tape.backwardFromSeeded();
        float[] half = ref.dHidden().clone(), halfHead = ref.dHead().clone();
        for (int i = 0; i < half.length; i++) half[i] *= 0.5f;
        for (int i = 0; i < halfHead.length; i++) halfHead[i] *= 0.5f;
        Approx.assertClose("dHidden", hidden.grad(), half, 1e-5);
        Approx.assertClose("dHead", head.grad(), halfHead, 1e-5);
    }

    @Test
    void recomputedLogitsGiveTheSameBitsAsKeptOnes() {
        float[][] grads = new float[4][];
        float[] losses = new float[2];
        for (int k = 0; k < 2; k++) {
            SplittableRandom rng = new SplittableRandom(5);
            Tensor hidden = random(rng, true, 2, TOKENS, DIM), head = random(rng, true, 1, VOCAB, DIM);
            Tape tape = Tape.training();
            Tensor loss = TransformerOps.crossEntropyWithHead(tape, hidden, head, targets(), 11f, 512, k == 0 ? 1L << 26 : 0);
            tape.backward(loss);
            losses[k] = loss.data()[0];
            grads[2 * k] = hidden.grad();
            grads[2 * k + 1] = head.grad();
        }
        assertThat(losses[1]).isEqualTo(losses[0]);
        assertThat(grads[2]).containsExactly(grads[0]);
        assertThat(grads[3]).containsExactly(grads[1]);
    }

    @Test
    void theRecomputingVariantMatchesKeptLogitsOverSeveralChunks() {
        // a vocabulary of 2^17 gives chunks of 64 rows: 13 target rows in one chunk; with 200 rows, four chunks
        int vocab = 1 << 17, dim = 8, tokens = 200;
        SplittableRandom rng = new SplittableRandom(6);
        Tensor hidden = random(rng, true, 1, tokens, dim), head = random(rng, true, 1, vocab, dim);
        int[] targets = new int[tokens];
        for (int t = 0; t < tokens; t++) targets[t] = t % 7 == 0 ? -100 : (int) ((t * 7919L + 3) % vocab);
        Tape kept = Tape.training();
        Tensor keptLoss = TransformerOps.crossEntropyWithHead(kept, hidden, head, targets, 150f, 512, 1L << 26);
        kept.backward(keptLoss);
        float[] keptHidden = hidden.grad().clone(), keptHead = head.grad().clone();
        hidden.zeroGrad();
        head.zeroGrad();
        Tape tape = Tape.training();
        Tensor loss = TransformerOps.crossEntropyWithHeadRecomputed(tape, hidden, head, targets, 150f);
        tape.backward(loss);
        assertThat((double) loss.data()[0]).isCloseTo(keptLoss.data()[0], within(1e-6 * keptLoss.data()[0]));
        Approx.assertClose("dHidden", hidden.grad(), keptHidden, 1e-5);
        Approx.assertClose("dHead", head.grad(), keptHead, 1e-5);
    }

    @Test
    void allTargetsIgnoredGivesZeroLossAndGradient() {
        SplittableRandom rng = new SplittableRandom(3);
        Tensor hidden = random(rng, true, 1, 3, 4), head = random(rng, true, 1, 5, 4);
        Tape tape = Tape.training();
        Tensor loss = TransformerOps.crossEntropyWithHead(tape, hidden, head, new int[] {-100, -100, -100}, 7f);
        assertThat(loss.data()[0]).isZero();
        tape.backward(loss);
        assertThat(hidden.grad()).containsOnly(0f);
        assertThat(head.grad()).containsOnly(0f);
    }

    @Test
    void badTargetsAreRejected() {
        Tensor hidden = Tensor.zeros(false, 2, 4), head = Tensor.zeros(false, 5, 4);
        Tape tape = Tape.inference();
        assertThatThrownBy(() -> TransformerOps.crossEntropyWithHead(tape, hidden, head, new int[] {0, 5}, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 5");
        assertThatThrownBy(() -> TransformerOps.crossEntropyWithHead(tape, hidden, head, new int[] {-1, 0}, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target -1");
        assertThatThrownBy(() -> TransformerOps.crossEntropyWithHead(tape, hidden, head, new int[] {0}, 1f))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TransformerOps.crossEntropyWithHead(tape, hidden, head, new int[] {0, 1}, 0f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("normalizer");
    }
}
