package dev.dora4j.autograd;

import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;

/**
 * Elementary ops on the tape. Each fuses its forward into one kernel call and records a
 * hand-written backward that accumulates into the inputs that require gradients.
 */
public final class Ops {
    private Ops() {}

    /** The result of an op over {@code inputs}: trainable when the tape records and any input needs a gradient. */
    static Tensor output(Tape tape, float[] data, int[] shape, Tensor... inputs) {
        return tape.needsGrad(inputs) ? Tensor.param(data, shape).pooled(tape.pool()) : Tensor.of(data, shape);
    }

    /** x: [tokens, in], w: [out, in], bias: [out] or null -> y: [tokens, out] = x·Wᵀ + b. */
    public static Tensor linear(Tape tape, Tensor x, Tensor w, Tensor bias) {
        int in = w.dim(1), out = w.dim(0), tokens = x.rows();
        if (x.cols() != in) {
            throw new IllegalArgumentException("linear: input has " + x.cols() + " features, weight expects " + in);
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = out;
        float[] y = tape.floatsForOverwrite(tokens * out);
        Gemm.xWt(x.data(), 0, w.matrix(), y, 0, tokens, false, null, null);
        if (bias != null) addRowVector(y, bias.data(), tokens, out);
        // backward reads x, W and the gradient, never y
        Tensor result = output(tape, y, shape, x, w, bias).markOverwritable();
        if (result.requiresGrad()) {
            tape.record("linear", result, () -> {
                float[] gy = result.grad();
                if (x.requiresGrad()) {
                    Tensor.GradWrite gx = x.gradForWrite();
                    Gemm.gW(gy, 0, w.matrix(), null, gx.values(), 0, tokens, gx.accumulate());
                }
                if (w.requiresGrad()) Gemm.gtX(gy, 0, x.data(), 0, w.grad(), 0, tokens, out, in, true);
                if (bias != null && bias.requiresGrad()) sumRowsInto(gy, tokens, out, bias.grad());
            });
        }
        return result;
    }

    /** a + b, same shapes. */
    public static Tensor add(Tape tape, Tensor a, Tensor b) {
        checkSameSize(a, b, "add");
        float[] y = tape.floatsForOverwrite(a.numel());
        VecOps.add(a.data(), 0, b.data(), 0, y, 0, y.length);
        Tensor result = output(tape, y, a.shape(), a, b);
        if (result.requiresGrad()) {
            tape.record("add", result, () -> {
                // each first contribution is copied in, later ones added
                if (a.requiresGrad()) a.gradForWrite().put(result.grad(), 0, 0, y.length);
                if (b.requiresGrad()) b.gradForWrite().put(result.grad(), 0, 0, y.length);
            });
        }
        return result;
    }

    /**
     * target + other, written over target's values, which only this op may read (target's producer marked them
     * {@link Tensor#markOverwritable overwritable}, and the caller is their only reader): returns target, which then
     * holds the sum and collects its gradient, passed on to other in backward. A residual connection so keeps one
     * buffer instead of two. When target's values are not overwritable, or target takes no gradient where other
     * does, this is {@link #add(Tape, Tensor, Tensor) add(other, target)}, the same values in a new buffer.
     */
    public static Tensor addInto(Tape tape, Tensor target, Tensor other) {
        checkSameSize(target, other, "add");
        if (!target.overwritable() || tape.needsGrad(other) && !target.requiresGrad()) return add(tape, other, target);
        float[] y = target.data();
        VecOps.add(other.data(), 0, y, 0, y, 0, y.length);
        // target's gradient passes through unchanged; only other's needs adding to
        if (tape.needsGrad(other)) {
            tape.record("add", () -> other.gradForWrite().put(target.grad(), 0, 0, y.length));
        }
        return target;
    }

    /** a ⊙ b, same shapes. */
    public static Tensor mul(Tape tape, Tensor a, Tensor b) {
        checkSameSize(a, b, "mul");
        float[] y = tape.floats(a.numel());
        float[] ad = a.data(), bd = b.data();
        for (int i = 0; i < y.length; i++) y[i] = ad[i] * bd[i];
        Tensor result = output(tape, y, a.shape(), a, b);
        if (result.requiresGrad()) {
            tape.record("mul", result, () -> {
                float[] g = result.grad();
                if (a.requiresGrad()) for (int i = 0; i < y.length; i++) a.grad()[i] += g[i] * bd[i];
                if (b.requiresGrad()) for (int i = 0; i < y.length; i++) b.grad()[i] += g[i] * ad[i];
            });
        }
        return result;
    }

    /** Σ x ⊙ weights: a scalar, the usual way to turn an output into a loss with a chosen upstream gradient. */
    public static Tensor weightedSum(Tape tape, Tensor x, float[] weights) {
        if (weights.length != x.numel()) throw new IllegalArgumentException("weightedSum: size mismatch");
        double s = 0;
        float[] xd = x.data();
        for (int i = 0; i < xd.length; i++) s += (double) xd[i] * weights[i];
        Tensor result = output(tape, new float[] {(float) s}, new int[0], x);
        if (result.requiresGrad()) {
            tape.record(() -> VecOps.axpy(result.grad()[0], weights, 0, x.grad(), 0, xd.length));
        }
        return result;
    }

    /** y: [rows, cols] += v: [cols] on every row. */
    static void addRowVector(float[] y, float[] v, int rows, int cols) {
        for (int r = 0; r < rows; r++) VecOps.add(y, r * cols, v, 0, y, r * cols, cols);
    }

    /** g: [rows, cols] -> out: [cols] += Σ_rows g. */
    static void sumRowsInto(float[] g, int rows, int cols, float[] out) {
        for (int r = 0; r < rows; r++) VecOps.axpy(1f, g, r * cols, out, 0, cols);
    }

    private static void checkSameSize(Tensor a, Tensor b, String op) {
        if (a.numel() != b.numel()) {
            throw new IllegalArgumentException(op + ": shapes differ: " + a + " vs " + b);
        }
    }
}
