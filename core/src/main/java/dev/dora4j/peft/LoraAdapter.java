package dev.dora4j.peft;

import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearAdapter;
import dev.dora4j.tensor.Tensor;

/**
 * A LoRA or DoRA adapter on one frozen linear layer, with PEFT's forward semantics:
 * <pre>
 * LoRA: y = W x + b + s · B A drop(x)
 * DoRA: y = W x + b + (m/n − 1) ⊙ W drop(x) + (m/n) ⊙ s · B A drop(x),   n = ‖W + s·B·A‖ per row
 * </pre>
 * Without active dropout DoRA reuses the base output: {@code y = (m/n) ⊙ (W x + s·B A x) + b}.
 * The norm {@code n} is treated as a constant in backward (PEFT's and the paper's default) unless
 * {@link #exactNormGradient} is set. Neither forward nor backward forms {@code B·A} or
 * {@code W + s·B·A}; see {@link DoraNorm}.
 */
public final class LoraAdapter implements LinearAdapter {
    private final Tensor loraA;
    private final Tensor loraB;
    private final Tensor magnitude;
    private final float scaling;
    private final Dropout dropout;
    private boolean exactNormGradient;
    private double[] weightSquaredNorms;
    private float[] mergedNorm;
    private float[] fixedNorm;
    private DoraNorm.Result frozenNorm;

    /**
     * @param loraA     [r, in]
     * @param loraB     [out, r]
     * @param magnitude [out] for DoRA, null for LoRA
     * @param scaling   alpha / r, or alpha / sqrt(r) with rsLoRA
     * @param dropout   dropout on the adapter's input, or null for none
     */
    public LoraAdapter(Tensor loraA, Tensor loraB, Tensor magnitude, float scaling, Dropout dropout) {
        if (loraA.rank() != 2 || loraB.rank() != 2 || loraA.dim(0) != loraB.dim(1)) {
            throw new IllegalArgumentException("lora_A " + loraA + " and lora_B " + loraB + " do not share a rank");
        }
        if (magnitude != null && (magnitude.rank() != 1 || magnitude.dim(0) != loraB.dim(0))) {
            throw new IllegalArgumentException("magnitude " + magnitude + " does not match lora_B " + loraB);
        }
        this.loraA = loraA;
        this.loraB = loraB;
        this.magnitude = magnitude;
        this.scaling = scaling;
        this.dropout = dropout;
    }

    public Tensor loraA() {
        return loraA;
    }

    public Tensor loraB() {
        return loraB;
    }

    /** The DoRA magnitude vector, or null for plain LoRA. */
    public Tensor magnitude() {
        return magnitude;
    }

    public boolean isDora() {
        return magnitude != null;
    }

    public int rank() {
        return loraA.dim(0);
    }

    public float scaling() {
        return scaling;
    }

    @Override
    public Dropout dropout() {
        return dropout;
    }

    /** Lets the gradient flow through the weight norm (off by default, as in PEFT). */
    public LoraAdapter exactNormGradient(boolean on) {
        this.exactNormGradient = on;
        return this;
    }

    public boolean exactNormGradient() {
        return exactNormGradient;
    }

    /**
     * Holds the weight norm at the given values instead of recomputing it from A and B, or
     * recomputes it again with null. With the norm detached in backward, the gradient is exactly
     * that of the function with n held constant; this makes that function observable, for
     * gradient checks by finite differences.
     */
    void holdNorm(float[] norm) {
        this.fixedNorm = norm == null ? null : norm.clone();
    }

    /** Checks that this adapter fits {@code base}, naming the module when it does not. */
    public void checkFits(Linear base) {
        if (loraA.dim(1) != base.inFeatures() || loraB.dim(0) != base.outFeatures()) {
            throw new IllegalArgumentException(base.path() + ": adapter lora_A " + loraA + " / lora_B " + loraB
                    + " do not fit weight [" + base.outFeatures() + ", " + base.inFeatures() + "]");
        }
    }

    /** ‖W‖² per row of the frozen weight, computed on first use. */
    private double[] weightSquaredNorms(Linear base) {
        if (weightSquaredNorms == null) {
            weightSquaredNorms = DoraNorm.weightSquaredNorms(base.weight().floats(), base.outFeatures(), base.inFeatures());
        }
        return weightSquaredNorms;
    }

    /** The current DoRA weight norm {@code ‖W + s·B·A‖} per output row. */
    public float[] weightNorm(Linear base) {
        double[] wSq = weightSquaredNorms(base);
        return DoraNorm.compute(base.weight().floats(), loraA.data(), loraB.data(), wSq, scaling,
                base.outFeatures(), base.inFeatures(), rank()).norm();
    }

    @Override
    public Tensor forward(Tape tape, Linear base, Tensor input) {
        int in = base.inFeatures(), out = base.outFeatures(), r = rank(), tokens = input.rows();
        float s = scaling;
        double[] wSq = magnitude == null ? null : weightSquaredNorms(base);
        float[] x = input.data(), w = base.weight().floats(), a = loraA.data(), b = loraB.data();
        float[] mask = dropout == null ? null : dropout.nextMask(tokens * in);
        float[] dx = mask == null ? x : multiply(x, mask);

        float[] y = new float[tokens * out];
        Gemm.xWt(x, 0, w, 0, y, 0, tokens, in, out, false);
        float[] u = new float[tokens * r];
        Gemm.xWt(dx, 0, a, 0, u, 0, tokens, in, r, false);
        float[] v = new float[tokens * out];
        Gemm.xWt(u, 0, b, 0, v, 0, tokens, r, out, false);

        DoraNorm.Result norm = null;
        float[] scale = null;
        float[] droppedBase = null;
        if (magnitude == null) {
            for (int i = 0; i < y.length; i++) y[i] += s * v[i];
        } else {
            norm = frozen() ? frozenNorm(w, wSq) : DoraNorm.compute(w, a, b, wSq, s, out, in, r);
            if (fixedNorm != null) norm = new DoraNorm.Result(fixedNorm, norm.weightTimesAt(), norm.bTimesGram(), norm.gram());
            scale = new float[out];
            for (int o = 0; o < out; o++) scale[o] = DoraNorm.scale(magnitude.data()[o], norm.norm()[o]);
            if (mask == null) {
                // backward needs W x + s·B A x; it is y / (m/n) before the bias, so a copy is kept only when a scale is 0
                droppedBase = tape.recording() && !allNonZero(scale) ? y.clone() : null;
                float[] sc = scale;
                Parallel.range(tokens, rowGrain(out), (t0, t1) -> {
                    for (int i = t0 * out; i < t1 * out; i += out) {
                        for (int o = 0; o < out; o++) y[i + o] = sc[o] * (y[i + o] + s * v[i + o]);
                    }
                });
            } else {
                float[] db = new float[tokens * out], sc = scale;
                droppedBase = db;
                Gemm.xWt(dx, 0, w, 0, db, 0, tokens, in, out, false);
                Parallel.range(tokens, rowGrain(out), (t0, t1) -> {
                    for (int i = t0 * out; i < t1 * out; i += out) {
                        for (int o = 0; o < out; o++) y[i + o] += (sc[o] - 1f) * db[i + o] + sc[o] * s * v[i + o];
                    }
                });
            }
        }
        if (base.bias() != null) {
            float[] bias = base.bias().data();
            for (int t = 0; t < tokens; t++) for (int o = 0; o < out; o++) y[t * out + o] += bias[o];
        }

        boolean trainable = tape.needsGrad(input, loraA, loraB, magnitude, base.bias());
        Tensor result = trainable ? Tensor.param(y, outShape(input, out)) : Tensor.of(y, outShape(input, out));
        if (trainable) {
            Backward backward = new Backward(base, input, result, dx, mask, u, v, droppedBase, scale, norm);
            tape.record(magnitude == null ? "lora" : "dora", backward::run);
        }
        return result;
    }

    /** A and B cannot change (an adapter loaded for inference), so n = ‖W + s·B·A‖ can be computed once. */
    private boolean frozen() {
        return !loraA.requiresGrad() && !loraB.requiresGrad();
    }

    private DoraNorm.Result frozenNorm(float[] w, double[] wSq) {
        if (frozenNorm == null) {
            frozenNorm = DoraNorm.compute(w, loraA.data(), loraB.data(), wSq, scaling, loraB.dim(0), loraA.dim(1), rank());
        }
        return frozenNorm;
    }

    /** The saved state of one forward pass and its backward rule. */
    private final class Backward {
        private final Linear base;
        private final Tensor input, result;
        private final float[] dx, mask, u, v, droppedBase, scale;
        private final DoraNorm.Result norm;

        Backward(Linear base, Tensor input, Tensor result, float[] dx, float[] mask, float[] u, float[] v,
                float[] droppedBase, float[] scale, DoraNorm.Result norm) {
            this.base = base;
            this.input = input;
            this.result = result;
            this.dx = dx;
            this.mask = mask;
            this.u = u;
            this.v = v;
            this.droppedBase = droppedBase;
            this.scale = scale;
            this.norm = norm;
        }

        void run() {
            int in = base.inFeatures(), out = base.outFeatures(), r = rank(), tokens = input.rows();
            float s = scaling;
            float[] gy = result.grad(), w = base.weight().floats(), a = loraA.data(), b = loraB.data();

            // gv = dL/d(B A drop(x)) = s · (m/n) ⊙ gy   (LoRA: s · gy)
            float[] gv = new float[tokens * out];
            float[] dScale = null;
            if (magnitude == null) {
                for (int i = 0; i < gv.length; i++) gv[i] = s * gy[i];
            } else {
                float[] ds = new float[out];
                dScale = ds;
                float[] pre = droppedBase;
                float[] y = result.data(), bias = base.bias() == null ? null : base.bias().data();
                // split over output columns: each column's sum runs over the tokens in order, whatever the thread count
                Parallel.range(out, Math.max(16, rowGrain(tokens)), (o0, o1) -> {
                    for (int t = 0; t < tokens; t++) {
                        for (int o = o0, i = t * out + o0; o < o1; o++, i++) {
                            float unscaled = pre != null ? pre[i] + s * v[i]
                                    : (bias == null ? y[i] : y[i] - bias[o]) / scale[o];
                            ds[o] += gy[i] * unscaled;
                            gv[i] = s * scale[o] * gy[i];
                        }
                    }
                });
                if (magnitude.requiresGrad()) {
                    float[] gm = magnitude.grad();
                    for (int o = 0; o < out; o++) {
                        float n = norm.norm()[o];
                        if (n > 0f) gm[o] += dScale[o] / n;
                    }
                }
            }
            if (base.bias() != null && base.bias().requiresGrad()) {
                float[] gb = base.bias().grad();
                for (int t = 0; t < tokens; t++) for (int o = 0; o < out; o++) gb[o] += gy[t * out + o];
            }
            if (loraB.requiresGrad()) Gemm.gtX(gv, 0, u, 0, loraB.grad(), 0, tokens, out, r, true);
            float[] gu = new float[tokens * r];
            Gemm.gW(gv, 0, b, 0, gu, 0, tokens, out, r, false);
            if (loraA.requiresGrad()) Gemm.gtX(gu, 0, dx, 0, loraA.grad(), 0, tokens, r, in, true);
            if (magnitude != null && exactNormGradient) normGradient(dScale, w, a, b, out, in, r);
            if (input.requiresGrad()) inputGradient(gy, gu, w, a, tokens, out, in, r);
        }

        /** Adds the gradient that flows through n = ‖W + s·B·A‖ into A and B. */
        private void normGradient(float[] dScale, float[] w, float[] a, float[] b, int out, int in, int r) {
            float s = scaling;
            // c_o = dL/dn_o / n_o with dL/dn_o = dScale_o · (−m_o / n_o²)
            float[] cb = new float[out * r];
            for (int o = 0; o < out; o++) {
                float n = norm.norm()[o];
                if (n <= 0f) continue;
                float c = -dScale[o] * magnitude.data()[o] / (n * n * n);
                for (int j = 0; j < r; j++) cb[o * r + j] = c * b[o * r + j];
                if (loraB.requiresGrad()) {
                    float[] gb = loraB.grad();
                    for (int j = 0; j < r; j++) {
                        gb[o * r + j] += c * (s * norm.weightTimesAt()[o * r + j] + s * s * norm.bTimesGram()[o * r + j]);
                    }
                }
            }
            if (loraA.requiresGrad()) {
                // gA += s·(c⊙B)ᵀ·W + s²·((c⊙B)ᵀ·B)·A
                float[] ga = new float[r * in];
                Gemm.gtX(cb, 0, w, 0, ga, 0, out, r, in, false);
                float[] k = new float[r * r];
                Gemm.gtX(cb, 0, b, 0, k, 0, out, r, r, false);
                float[] ka = new float[r * in];
                Gemm.gW(k, 0, a, 0, ka, 0, r, r, in, false);
                float[] gA = loraA.grad();
                for (int i = 0; i < gA.length; i++) gA[i] += s * ga[i] + s * s * ka[i];
            }
        }

        /** dL/dx through the frozen weight and the adapter path, honouring the dropout mask. */
        private void inputGradient(float[] gy, float[] gu, float[] w, float[] a, int tokens, int out, int in, int r) {
            float[] gx = input.grad();
            if (mask == null) {
                float[] gBase = gy;
                if (magnitude != null) {
                    float[] gb = new float[tokens * out];
                    gBase = gb;
                    Parallel.range(tokens, rowGrain(out), (t0, t1) -> {
                        for (int i = t0 * out; i < t1 * out; i += out) {
                            for (int o = 0; o < out; o++) gb[i + o] = scale[o] * gy[i + o];
                        }
                    });
                }
                Gemm.gW(gBase, 0, w, 0, gx, 0, tokens, out, in, true);
                Gemm.gW(gu, 0, a, 0, gx, 0, tokens, r, in, true);
                return;
            }
            Gemm.gW(gy, 0, w, 0, gx, 0, tokens, out, in, true);
            float[] gDropped = new float[tokens * in];
            Gemm.gW(gu, 0, a, 0, gDropped, 0, tokens, r, in, false);
            if (magnitude != null) {
                float[] gScaled = new float[tokens * out];
                for (int t = 0; t < tokens; t++) {
                    for (int o = 0, i = t * out; o < out; o++, i++) gScaled[i] = (scale[o] - 1f) * gy[i];
                }
                Gemm.gW(gScaled, 0, w, 0, gDropped, 0, tokens, out, in, true);
            }
            for (int i = 0; i < gx.length; i++) gx[i] += mask[i] * gDropped[i];
        }
    }

    @Override
    public void merge(Linear base) {
        int in = base.inFeatures(), out = base.outFeatures();
        float[] w = base.weight().toFloatArray();
        DoraNorm.addScaledProduct(w, loraA.data(), loraB.data(), scaling, out, in, rank());
        if (magnitude != null) {
            mergedNorm = DoraNorm.rowNorms(w, out, in);
            for (int o = 0; o < out; o++) {
                float f = DoraNorm.scale(magnitude.data()[o], mergedNorm[o]);
                for (int i = o * in; i < (o + 1) * in; i++) w[i] *= f;
            }
        }
        base.weight().set(w);
        weightSquaredNorms = null;
        frozenNorm = null;
    }

    @Override
    public void unmerge(Linear base) {
        int in = base.inFeatures(), out = base.outFeatures();
        float[] w = base.weight().toFloatArray();
        if (magnitude != null) {
            for (int o = 0; o < out; o++) {
                float f = DoraNorm.scale(magnitude.data()[o], mergedNorm[o]);
                for (int i = o * in; i < (o + 1) * in; i++) w[i] = f == 0f ? 0f : w[i] / f;
            }
            mergedNorm = null;
        }
        DoraNorm.addScaledProduct(w, loraA.data(), loraB.data(), -scaling, out, in, rank());
        base.weight().set(w);
        weightSquaredNorms = null;
        frozenNorm = null;
    }

    private static boolean allNonZero(float[] values) {
        for (float v : values) if (v == 0f) return false;
        return true;
    }

    /** Rows per parallel chunk so that a chunk holds at least about 16K elements. */
    private static int rowGrain(int cols) {
        return Math.max(1, 16384 / Math.max(1, cols));
    }

    private static float[] multiply(float[] x, float[] mask) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * mask[i];
        return y;
    }

    private static int[] outShape(Tensor input, int out) {
        int[] shape = input.shape();
        shape[shape.length - 1] = out;
        return shape;
    }
}
