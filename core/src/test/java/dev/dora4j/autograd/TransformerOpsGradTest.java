package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TransformerOpsGradTest {
    private static final RopeTable ROPE_4 = RopeTable.create(4, 32, 10000, null);
    private static final RopeTable ROPE_6 = RopeTable.create(6, 32, 500000, RopeScaling.llama3(8, 1, 4, 16));

    static Tensor random(SplittableRandom rng, boolean trainable, double scale, int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) d[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        return trainable ? Tensor.param(d, shape) : Tensor.of(d, shape);
    }

    /**
     * For the cross-entropy loss (a single float32 value) and for attention with only some inputs trainable, the
     * float32 rounding of the checked function divided by the standard step reaches ~1e-3 of the smaller
     * gradients; a step of 0.1 keeps both that noise and the five-point stencil's truncation error well below.
     */
    static final GradCheck WIDE_STEP = new GradCheck(0.1, 200, 1234);

    static void assertGradients(Function<Tape, Tensor> f, List<Tensor> params) {
        assertGradients(GradCheck.standard(), f, params);
    }

    static void assertGradients(GradCheck check, Function<Tape, Tensor> f, List<Tensor> params) {
        GradCheck.Result r = check.check(f, params);
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(1e-3);
        assertThat(r.checked()).isGreaterThan(0);
    }

    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12", "7, 5"})
    void embeddingTableGradient(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(tokens);
        Tensor table = random(rng, true, 1, 9, dim);
        int[] ids = new int[tokens];
        for (int t = 0; t < tokens; t++) ids[t] = (t * 5) % 4;
        assertGradients(tape -> TransformerOps.embedding(tape, ids, table), List.of(table));
    }

    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12", "7, 5"})
    void rmsNormGradients(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(10 + tokens);
        Tensor x = random(rng, true, 1, tokens, dim), w = random(rng, true, 1.5, dim);
        assertGradients(tape -> TransformerOps.rmsNorm(tape, x, w, 1e-5f), List.of(x, w));
    }

    @Test
    void rmsNormWithFrozenWeight() {
        SplittableRandom rng = new SplittableRandom(2);
        Tensor x = random(rng, true, 1, 3, 12), w = random(rng, false, 1.5, 12);
        assertGradients(tape -> TransformerOps.rmsNorm(tape, x, w, 1e-6f), List.of(x));
    }

    @ParameterizedTest
    @CsvSource({"1, 4, 4", "3, 2, 6", "7, 3, 4"})
    void ropeGradient(int tokens, int heads, int headDim) {
        SplittableRandom rng = new SplittableRandom(20 + tokens);
        RopeTable table = headDim == 4 ? ROPE_4 : ROPE_6;
        Tensor x = random(rng, true, 1, tokens, heads * headDim);
        int[] positions = new int[tokens];
        for (int t = 0; t < tokens; t++) positions[t] = (t * 11 + 3) % 32;
        assertGradients(tape -> TransformerOps.rope(tape, x, heads, table, positions), List.of(x));
    }

    @ParameterizedTest
    @CsvSource({"1, 4, 4", "3, 2, 6", "7, 3, 4"})
    void ropeInPlaceOnAProjectionMatchesRopeBitForBit(int tokens, int heads, int headDim) {
        SplittableRandom rng = new SplittableRandom(40 + tokens);
        RopeTable table = headDim == 4 ? ROPE_4 : ROPE_6;
        int cols = heads * headDim;
        Tensor x = random(rng, true, 1, tokens, 5), w = random(rng, true, 1, cols, 5);
        float[] weights = random(rng, false, 1, tokens * cols).data();
        int[] positions = new int[tokens];
        for (int t = 0; t < tokens; t++) positions[t] = (t * 7 + 5) % 32;
        Function<Boolean, Function<Tape, Tensor>> graph = inPlace -> tape -> {
            Tensor y = Ops.linear(tape, x, w, null);
            Tensor r = inPlace ? TransformerOps.ropeInPlace(tape, y, heads, table, positions)
                    : TransformerOps.rope(tape, y, heads, table, positions);
            if (inPlace) assertThat(r).isSameAs(y);
            return Ops.weightedSum(tape, r, weights);
        };
        assertGradients(graph.apply(true), List.of(x, w));
        assertThat(lossAndGradients(graph.apply(true), x, w)).isDeepEqualTo(lossAndGradients(graph.apply(false), x, w));
    }

    @Test
    void ropeInPlaceCopiesValuesItsProducerMayRead() {
        SplittableRandom rng = new SplittableRandom(3);
        Tensor x = random(rng, true, 1, 3, 8);
        float[] before = x.data().clone();
        Tensor r = TransformerOps.ropeInPlace(Tape.training(), x, 2, ROPE_4, new int[] {1, 2, 3});
        assertThat(r).isNotSameAs(x);
        assertThat(x.data()).isEqualTo(before);
        assertThat(r.data()).isEqualTo(TransformerOps.rope(Tape.training(), x, 2, ROPE_4, new int[] {1, 2, 3}).data());
    }

    // the loss, then each parameter's gradient, after one backward of f from zeroed gradients
    static float[][] lossAndGradients(Function<Tape, Tensor> f, Tensor... params) {
        for (Tensor p : params) p.zeroGrad();
        Tape tape = Tape.training();
        Tensor loss = f.apply(tape);
        tape.backward(loss);
        float[][] out = new float[params.length + 1][];
        out[0] = loss.data().clone();
        for (int i = 0; i < params.length; i++) out[i + 1] = params[i].grad().clone();
        return out;
    }

    @ParameterizedTest
    @CsvSource({"1, 5", "3, 12", "7, 5"})
    void swigluGradients(int tokens, int dim) {
        SplittableRandom rng = new SplittableRandom(30 + tokens);
        Tensor gate = random(rng, true, 3, tokens, dim), up = random(rng, true, 1, tokens, dim);
        assertGradients(tape -> TransformerOps.swiglu(tape, gate, up), List.of(gate, up));
    }

    @ParameterizedTest(name = "batch={0} seqLen={1} heads={2} kvHeads={3} headDim={4}")
    @CsvSource({
        "1, 1, 4, 4, 2",
        "1, 3, 4, 2, 4",
        "1, 7, 4, 1, 6",
        "2, 3, 4, 4, 4",
        "2, 3, 4, 2, 6",
        "2, 3, 4, 1, 2",
    })
    void attentionGradients(int batch, int seqLen, int heads, int kvHeads, int headDim) {
        SplittableRandom rng = new SplittableRandom(40L * seqLen + kvHeads + headDim);
        int tokens = batch * seqLen;
        Tensor q = random(rng, true, 1.5, tokens, heads * headDim);
        Tensor k = random(rng, true, 1.5, tokens, kvHeads * headDim);
        Tensor v = random(rng, true, 1, tokens, kvHeads * headDim);
        assertGradients(tape -> TransformerOps.causalAttention(tape, q, k, v, batch, seqLen, heads, kvHeads, headDim),
                List.of(q, k, v));
    }

    @ParameterizedTest(name = "trainable q={0} k={1} v={2}")
    @CsvSource({"true, false, true", "false, true, false", "false, false, true", "true, true, false"})
    void attentionWithSomeInputsFrozen(boolean qt, boolean kt, boolean vt) {
        SplittableRandom rng = new SplittableRandom(50);
        Tensor q = random(rng, qt, 1.5, 6, 4 * 4), k = random(rng, kt, 1.5, 6, 2 * 4), v = random(rng, vt, 1, 6, 2 * 4);
        List<Tensor> params = new ArrayList<>();
        for (Tensor t : List.of(q, k, v)) if (t.requiresGrad()) params.add(t);
        assertGradients(WIDE_STEP, tape -> TransformerOps.causalAttention(tape, q, k, v, 2, 3, 4, 2, 4), params);
    }

    @Test
    void ropeThenAttentionGradients() {
        SplittableRandom rng = new SplittableRandom(60);
        Tensor q = random(rng, true, 1.5, 6, 4 * 6), k = random(rng, true, 1.5, 6, 2 * 6);
        Tensor v = random(rng, true, 1, 6, 2 * 6);
        int[] positions = {0, 1, 2, 0, 1, 2};
        assertGradients(tape -> TransformerOps.causalAttention(tape,
                TransformerOps.rope(tape, q, 4, ROPE_6, positions),
                TransformerOps.rope(tape, k, 2, ROPE_6, positions), v, 2, 3, 4, 2, 6), List.of(q, k, v));
    }

    @ParameterizedTest(name = "tokens={0} dim={1} headTrainable={2} chunk={3}")
    @CsvSource({
        "1, 5, false, 128",
        "3, 12, true, 2",
        "7, 5, true, 3",
        "7, 12, false, 2",
        "7, 5, true, 1",
    })
    void crossEntropyGradients(int tokens, int dim, boolean headTrainable, int chunk) {
        SplittableRandom rng = new SplittableRandom(70 + tokens + dim);
        int vocab = 5;
        Tensor hidden = random(rng, true, 1, tokens, dim), head = random(rng, headTrainable, 1, vocab, dim);
        int[] targets = new int[tokens];
        for (int t = 0; t < tokens; t++) targets[t] = t % 3 == 1 ? CrossEntropyOp.IGNORE : (t * 7 + 2) % vocab;
        List<Tensor> params = headTrainable ? List.of(hidden, head) : List.of(hidden);
        assertGradients(WIDE_STEP,
                tape -> TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 5f, chunk, 0), params);
        assertGradients(WIDE_STEP,
                tape -> TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 5f, chunk, 1 << 20), params);
    }

    @Test
    void crossEntropyHeadOnlyTrainable() {
        SplittableRandom rng = new SplittableRandom(80);
        Tensor hidden = random(rng, false, 1, 7, 5), head = random(rng, true, 1, 6, 5);
        int[] targets = {3, -100, 5, 0, -100, 2, 2};
        assertGradients(WIDE_STEP,
                tape -> TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 5f, 2, 0), List.of(head));
        assertGradients(WIDE_STEP,
                tape -> TransformerOps.crossEntropyWithHead(tape, hidden, head, targets, 5f, 2, 1 << 20), List.of(head));
    }
}
