package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class OpsGradTest {
    static Tensor random(SplittableRandom rng, boolean trainable, int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) d[i] = (float) (rng.nextDouble() * 2 - 1);
        return trainable ? Tensor.param(d, shape) : Tensor.of(d, shape);
    }

    @ParameterizedTest
    @CsvSource({"1,1,1", "3,7,5", "5,17,9", "2,33,65"})
    void linearGradientsMatchFiniteDifferences(int tokens, int in, int out) {
        SplittableRandom rng = new SplittableRandom(tokens * 31L + in);
        Tensor x = random(rng, true, tokens, in), w = random(rng, true, out, in), b = random(rng, true, out);
        GradCheck.Result r = GradCheck.standard().check(t -> Ops.linear(t, x, w, b), List.of(x, w, b));
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(1e-3);
        assertThat(r.checked()).isGreaterThan(0);
    }

    @ParameterizedTest
    @CsvSource({"1,3,4", "4,5,7"})
    void addIntoAProjectionMatchesAddBitForBit(int tokens, int in, int out) {
        SplittableRandom rng = new SplittableRandom(tokens * 13L + out);
        Tensor x = random(rng, true, tokens, in), w = random(rng, true, out, in), h = random(rng, true, tokens, out);
        float[] weights = random(rng, false, tokens * out).data();
        Function<Boolean, Function<Tape, Tensor>> graph = inPlace -> t -> {
            Tensor y = Ops.linear(t, x, w, null);
            Tensor sum = inPlace ? Ops.addInto(t, y, h) : Ops.add(t, h, y);
            if (inPlace) assertThat(sum).isSameAs(y);
            // h is read again after the sum, as a residual stream is
            return Ops.weightedSum(t, Ops.mul(t, sum, h), weights);
        };
        GradCheck.Result r = GradCheck.standard().check(graph.apply(true), List.of(x, w, h));
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(1e-3);
        assertThat(r.checked()).isGreaterThan(0);
        assertThat(TransformerOpsGradTest.lossAndGradients(graph.apply(true), x, w, h))
                .isDeepEqualTo(TransformerOpsGradTest.lossAndGradients(graph.apply(false), x, w, h));
    }

    @Test
    void addIntoKeepsValuesItsProducerMayRead() {
        SplittableRandom rng = new SplittableRandom(5);
        Tensor a = random(rng, true, 2, 3), b = random(rng, true, 2, 3);
        float[] before = a.data().clone();
        Tensor sum = Ops.addInto(Tape.training(), a, b);
        assertThat(sum).isNotSameAs(a);
        assertThat(a.data()).isEqualTo(before);
        assertThat(sum.data()).isEqualTo(Ops.add(Tape.training(), b, a).data());
        // a frozen target cannot carry the gradient a trainable other needs: a new tensor takes it
        Tensor frozen = Ops.linear(Tape.training(), random(rng, false, 2, 4), random(rng, false, 3, 4), null);
        assertThat(frozen.overwritable()).isTrue();
        assertThat(Ops.addInto(Tape.training(), frozen, b)).isNotSameAs(frozen).matches(Tensor::requiresGrad);
    }

    @Test
    void frozenWeightGetsNoGradientWork() {
        SplittableRandom rng = new SplittableRandom(7);
        Tensor x = random(rng, true, 4, 6), w = random(rng, false, 3, 6);
        Tape tape = Tape.training();
        Tensor y = Ops.linear(tape, x, w, null);
        assertThat(y.requiresGrad()).isTrue();
        tape.backward(Ops.weightedSum(tape, y, new float[12]));
        assertThat(w.grad()).isNull();
        Tensor frozenInput = random(rng, false, 4, 6);
        Tape t2 = Tape.training();
        assertThat(Ops.linear(t2, frozenInput, w, null).requiresGrad()).isFalse();
        assertThat(t2.size()).isZero();
    }

    @Test
    void addAndMulGradientsMatchFiniteDifferences() {
        SplittableRandom rng = new SplittableRandom(3);
        Tensor a = random(rng, true, 3, 11), b = random(rng, true, 3, 11);
        GradCheck.Result r = GradCheck.standard().check(t -> Ops.mul(t, Ops.add(t, a, b), a), List.of(a, b));
        assertThat(r.maxRelError()).as(r.toString()).isLessThan(1e-3);
    }

    @Test
    void checkerCatchesAWrongBackward() {
        SplittableRandom rng = new SplittableRandom(5);
        Tensor a = random(rng, true, 2, 5);
        GradCheck.Result r = GradCheck.standard().check(t -> {
            float[] y = a.data().clone();
            for (int i = 0; i < y.length; i++) y[i] = y[i] * y[i];
            Tensor out = Tensor.param(y, a.shape());
            t.record(() -> {
                for (int i = 0; i < y.length; i++) a.grad()[i] += out.grad()[i] * a.data()[i];
            });
            return out;
        }, List.of(a));
        assertThat(r.maxRelError()).isGreaterThan(0.3);
    }
}
