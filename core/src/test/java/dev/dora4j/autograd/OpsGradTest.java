package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
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
