package dev.dora4j.autograd;

import dev.dora4j.tensor.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Finite-difference gradient checker. The function under test maps a fresh tape to an output
 * tensor; the checker turns it into the scalar {@code L = Σ y ⊙ w} for fixed random weights
 * {@code w}, summed in double, and compares the tape's gradients with a five-point central
 * difference of L for every element of every parameter (or a random sample of them). Errors are
 * relative to the larger of the two values, floored at 1 % of the largest gradient entry so that
 * the float rounding of the forward pass does not dominate entries near zero.
 */
public final class GradCheck {
    /** The worst disagreement found and where. */
    public record Result(double maxRelError, String where, double analytic, double numeric, int checked) {}

    private final double step;
    private final int maxPerTensor;
    private final long seed;

    public GradCheck(double step, int maxPerTensor, long seed) {
        this.step = step;
        this.maxPerTensor = maxPerTensor;
        this.seed = seed;
    }

    public static GradCheck standard() {
        return new GradCheck(3e-2, 200, 1234);
    }

    public Result check(Function<Tape, Tensor> f, List<Tensor> params) {
        float[] weights = upstreamWeights(f);
        for (Tensor p : params) p.zeroGrad();
        Tape tape = Tape.training();
        Tensor y = f.apply(tape);
        Tensor loss = Ops.weightedSum(tape, y, weights);
        tape.backward(loss);

        double gradScale = 0;
        for (Tensor p : params) for (float g : p.grad()) gradScale = Math.max(gradScale, Math.abs(g));
        double floor = 1e-2 * Math.max(gradScale, 1e-6);

        SplittableRandom rng = new SplittableRandom(seed + 1);
        Result worst = new Result(0, "", 0, 0, 0);
        int checked = 0;
        for (Tensor p : params) {
            float[] data = p.data();
            int n = data.length;
            int count = Math.min(n, maxPerTensor);
            for (int c = 0; c < count; c++) {
                int i = n <= maxPerTensor ? c : rng.nextInt(n);
                double numeric = numericDerivative(f, weights, data, i);
                double analytic = p.grad()[i];
                double err = Math.abs(analytic - numeric) / Math.max(Math.max(Math.abs(analytic), Math.abs(numeric)), floor);
                checked++;
                if (err > worst.maxRelError()) worst = new Result(err, p + "[" + i + "]", analytic, numeric, 0);
            }
        }
        return new Result(worst.maxRelError(), worst.where(), worst.analytic(), worst.numeric(), checked);
    }

    private float[] upstreamWeights(Function<Tape, Tensor> f) {
        Tensor probe = f.apply(Tape.inference());
        float[] w = new float[probe.numel()];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextDouble() * 2 - 1);
        return w;
    }

    private double numericDerivative(Function<Tape, Tensor> f, float[] weights, float[] data, int i) {
        float original = data[i];
        double h = step * Math.max(1.0, Math.abs(original));
        double[] at = new double[4];
        double[] offsets = {-2, -1, 1, 2};
        double[] actual = new double[4];
        for (int k = 0; k < 4; k++) {
            data[i] = (float) (original + offsets[k] * h);
            actual[k] = data[i] - (double) original;
            at[k] = evaluate(f, weights);
        }
        data[i] = original;
        double h1 = (actual[2] - actual[1]) / 2, h2 = (actual[3] - actual[0]) / 4;
        double d1 = (at[2] - at[1]) / (2 * h1);
        double d2 = (at[3] - at[0]) / (4 * h2);
        return (4 * d1 - d2) / 3;
    }

    private static double evaluate(Function<Tape, Tensor> f, float[] weights) {
        float[] y = f.apply(Tape.inference()).data();
        double s = 0;
        for (int i = 0; i < y.length; i++) s += (double) y[i] * weights[i];
        return s;
    }
}
