package dev.dora4j.peft;

import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;
import java.util.List;

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
public final class LoraAdapter implements Adapter {
    private final String path;
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
        this(null, loraA, loraB, magnitude, scaling, dropout);
    }

    /** As {@link #LoraAdapter(Tensor, Tensor, Tensor, float, Dropout)}, on the module at {@code path}, which names its tensors. */
    public LoraAdapter(String path, Tensor loraA, Tensor loraB, Tensor magnitude, float scaling, Dropout dropout) {
        LoraMethod.checkShapes("lora_A", loraA, "lora_B", loraB, magnitude);
        this.path = path;
        this.loraA = loraA;
        this.loraB = loraB;
        this.magnitude = magnitude;
        this.scaling = scaling;
        this.dropout = dropout;
    }

    @Override
    public PeftMethod method() {
        return magnitude == null ? LoraMethod.LORA : LoraMethod.DORA;
    }

    /** lora_A, lora_B and (DoRA) the magnitude under their PEFT keys. */
    @Override
    public List<AdapterTensor> tensors() {
        if (path == null) throw new IllegalStateException("an adapter made without a module path has no PEFT keys");
        return LoraMethod.tensors(PeftKeys.loraA(path), loraA, PeftKeys.loraB(path), loraB, path, magnitude);
    }

    @Override
    public void holdNorm(Linear base, boolean hold) {
        if (magnitude != null) holdNorm(hold ? weightNorm(base) : null);
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

    /** "dora" or "lora", as the tape records the backward. */
    @Override
    public String opName() {
        return magnitude == null ? "lora" : "dora";
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

    @Override
    public void checkFits(Linear base) {
        if (loraA.dim(1) != base.inFeatures() || loraB.dim(0) != base.outFeatures()) {
            throw new IllegalArgumentException(base.path() + ": adapter lora_A " + loraA + " / lora_B " + loraB
                    + " do not fit weight [" + base.outFeatures() + ", " + base.inFeatures() + "]");
        }
    }

    /** ‖W‖² per row of the frozen weight, computed on first use. */
    private double[] weightSquaredNorms(Linear base) {
        if (weightSquaredNorms == null) {
            weightSquaredNorms = base.weight().matrix().rowSquaredNorms();
        }
        return weightSquaredNorms;
    }

    /** The current DoRA weight norm {@code ‖W + s·B·A‖} per output row. */
    public float[] weightNorm(Linear base) {
        double[] wSq = weightSquaredNorms(base);
        return DoraNorm.compute(base.weight().matrix(), loraA.data(), loraB.data(), wSq, scaling, rank()).norm();
    }

    @Override
    public Tensor forward(Tape tape, Linear base, Tensor input) {
        int in = base.inFeatures(), out = base.outFeatures(), r = rank(), tokens = input.rows();
        float s = scaling;
        double[] wSq = magnitude == null ? null : weightSquaredNorms(base);
        WeightMatrix w = base.weight().matrix();
        float[] x = input.data(), a = loraA.data(), b = loraB.data();
        float[] bias = base.bias() == null ? null : base.bias().data();
        float[] mask = dropout == null ? null : dropout.nextMask(tokens * in);
        float[] dx = mask == null ? x : multiply(x, mask);

        boolean trainable = tape.needsGrad(input, loraA, loraB, magnitude, base.bias());
        // every buffer below is written whole before it is read
        float[] y = tape.floatsForOverwrite(tokens * out);
        // DoRA's norm needs A·Wᵀ: computed in the same pass over W as the base product
        float[] aWt = magnitude != null && !frozen() ? tape.floatsForOverwrite(r * out) : null;
        if (aWt != null) Gemm.xWtShared(x, 0, tokens, a, 0, r, w, y, 0, aWt, 0);
        else Gemm.xWt(x, 0, w, y, 0, tokens, false, null, null);
        // su = s·A drop(x), kept for backward; s·B A drop(x) is then su·Bᵀ
        float[] su = tape.floatsForOverwrite(tokens * r);
        Gemm.xWt(dx, 0, a, 0, su, 0, tokens, in, r, false);
        for (int i = 0; i < su.length; i++) su[i] *= s;

        DoraNorm.Result norm = null, computed = null;
        float[] scale = null, unscaled = null, droppedBase = null, v = null;
        if (magnitude == null) {
            Gemm.xWt(su, 0, b, 0, y, 0, tokens, r, out, true, null, bias);
        } else {
            // a training step takes the norm's arrays from its pool; they go back after this layer's backward
            computed = aWt == null ? frozenNorm(w, wSq)
                    : DoraNorm.compute(aWt, a, b, wSq, s, r, trainable ? tape::floatsForOverwrite : float[]::new);
            tape.give(aWt);
            norm = fixedNorm == null ? computed
                    : new DoraNorm.Result(fixedNorm, computed.weightTimesAt(), computed.bTimesGram(), computed.gram());
            scale = new float[out];
            for (int o = 0; o < out; o++) scale[o] = DoraNorm.scale(magnitude.data()[o], norm.norm()[o]);
            if (mask == null) {
                // y = (m/n) ⊙ (W x + s·B A x) + b, scaled as the adapter product is added. Backward recovers
                // W x + s·B A x as (y - b) / (m/n); a copy is kept only when some scale is 0.
                if (!tape.recording() || allNonZero(scale)) {
                    Gemm.xWt(su, 0, b, 0, y, 0, tokens, r, out, true, scale, bias);
                } else {
                    Gemm.xWt(su, 0, b, 0, y, 0, tokens, r, out, true);
                    unscaled = tape.floatsForOverwrite(y.length);
                    System.arraycopy(y, 0, unscaled, 0, y.length);
                    scaleColumns(y, scale, bias, tokens, out);
                }
            } else {
                // y = W x + b + (m/n − 1) ⊙ W drop(x) + (m/n) ⊙ s·B A drop(x)
                float[] db = tape.floatsForOverwrite(tokens * out), vs = tape.floatsForOverwrite(tokens * out);
                float[] sc = scale;
                droppedBase = db;
                v = vs;
                Gemm.xWt(dx, 0, w, db, 0, tokens, false, null, null);
                Gemm.xWt(su, 0, b, 0, vs, 0, tokens, r, out, false);
                Parallel.range(tokens, rowGrain(out), (t0, t1) -> {
                    for (int i = t0 * out; i < t1 * out; i += out) {
                        for (int o = 0; o < out; o++) y[i + o] += (sc[o] - 1f) * db[i + o] + sc[o] * vs[i + o];
                    }
                });
                if (bias != null) scaleColumns(y, null, bias, tokens, out);
            }
        }

        Tensor result = trainable ? Tensor.param(y, outShape(input, out)).pooled(tape.pool())
                : Tensor.of(y, outShape(input, out));
        // LoRA's backward reads only the gradient of y; DoRA's reads y itself (recovering W x + s·B A x from it)
        if (magnitude == null) result.markOverwritable();
        if (trainable) {
            // without dropout, backward reads x through the input tensor (whose values may be computed again by then)
            Backward backward = new Backward(tape, base, input, result, mask == null ? null : dx, mask, su, v,
                    droppedBase, unscaled, scale, norm);
            tape.record(opName(), result, backward::run, saved(computed, su, v, droppedBase, unscaled));
        }
        return result;
    }

    // the buffers that go back to the step's pool after this layer's backward: the saved values and the norm's
    // arrays (the pool takes back only what it lent: a frozen adapter's cached norm stays untouched)
    private static float[][] saved(DoraNorm.Result norm, float[]... values) {
        if (norm == null) return values;
        float[][] all = Arrays.copyOf(values, values.length + 4);
        all[values.length] = norm.norm();
        all[values.length + 1] = norm.weightTimesAt();
        all[values.length + 2] = norm.bTimesGram();
        all[values.length + 3] = norm.gram();
        return all;
    }

    // y: [tokens, out] -> y ⊙ scale + bias per column (either may be null)
    private static void scaleColumns(float[] y, float[] scale, float[] bias, int tokens, int out) {
        Parallel.range(tokens, rowGrain(out), (t0, t1) -> {
            for (int i = t0 * out; i < t1 * out; i += out) {
                if (scale != null) for (int o = 0; o < out; o++) y[i + o] *= scale[o];
                if (bias != null) for (int o = 0; o < out; o++) y[i + o] += bias[o];
            }
        });
    }

    /** A and B cannot change (an adapter loaded for inference), so n = ‖W + s·B·A‖ can be computed once. */
    private boolean frozen() {
        return !loraA.requiresGrad() && !loraB.requiresGrad();
    }

    private DoraNorm.Result frozenNorm(WeightMatrix w, double[] wSq) {
        if (frozenNorm == null) {
            frozenNorm = DoraNorm.compute(w, loraA.data(), loraB.data(), wSq, scaling, rank());
        }
        return frozenNorm;
    }

    /** The saved state of one forward pass and its backward rule. */
    private final class Backward {
        private final Tape tape;
        private final Linear base;
        private final Tensor input, result;
        /**
         * drop(x) with dropout (else null: x is read from the input), its mask (or null), s·A drop(x); with dropout,
         * W drop(x) and s·B A drop(x) (DoRA only).
         */
        private final float[] dx, mask, su, v, droppedBase;
        /** W x + s·B A x when some DoRA scale is 0 (else recovered from the output), and the scales m/n. */
        private final float[] unscaled, scale;
        private final DoraNorm.Result norm;

        Backward(Tape tape, Linear base, Tensor input, Tensor result, float[] dx, float[] mask, float[] su, float[] v,
                float[] droppedBase, float[] unscaled, float[] scale, DoraNorm.Result norm) {
            this.tape = tape;
            this.base = base;
            this.input = input;
            this.result = result;
            this.dx = dx;
            this.mask = mask;
            this.su = su;
            this.v = v;
            this.droppedBase = droppedBase;
            this.unscaled = unscaled;
            this.scale = scale;
            this.norm = norm;
        }

        void run() {
            int in = base.inFeatures(), out = base.outFeatures(), r = rank(), tokens = input.rows();
            float s = scaling;
            WeightMatrix w = base.weight().matrix();
            float[] gy = result.grad(), a = loraA.data(), b = loraB.data();

            // The gradient of B A drop(x) is gv = s·(m/n) ⊙ gy (LoRA: s·gy). It is never formed: the column
            // factors m/n go into the small products (gB's rows, B's rows) and into W's rows as W is packed.
            float[] dScale = null;
            if (magnitude != null) {
                dScale = scaleGradient(gy, tokens, out);
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
            if (loraB.requiresGrad()) {
                // gB += gvᵀ·u = diag(m/n)·gyᵀ·(s·u), computed transposed, (s·u)ᵀ·gy: r rows against gy's rows in
                // place, where gyᵀ·(s·u) would read gy down its columns (same sums, same bits)
                float[] gbuT = tape.floatsForOverwrite(r * out), gB = loraB.grad();
                if (magnitude == null) {
                    for (int o = 0; o < out; o++) for (int j = 0; j < r; j++) gbuT[j * out + o] = gB[o * r + j];
                    Gemm.gtX(su, 0, gy, 0, gbuT, 0, tokens, r, out, true);
                    for (int o = 0; o < out; o++) for (int j = 0; j < r; j++) gB[o * r + j] = gbuT[j * out + o];
                } else {
                    Gemm.gtX(su, 0, gy, 0, gbuT, 0, tokens, r, out, false);
                    for (int o = 0; o < out; o++) {
                        for (int j = 0; j < r; j++) gB[o * r + j] += scale[o] * gbuT[j * out + o];
                    }
                }
                tape.give(gbuT);
            }
            // gu = gv·B = gy·diag(s·m/n)·B
            float[] bScale = new float[out];
            for (int o = 0; o < out; o++) bScale[o] = magnitude == null ? s : s * scale[o];
            float[] gu = tape.floatsForOverwrite(tokens * r);
            Gemm.gW(gy, 0, b, 0, bScale, gu, 0, tokens, out, r, false);
            if (loraA.requiresGrad()) {
                Gemm.gtX(gu, 0, dx != null ? dx : input.data(), 0, loraA.grad(), 0, tokens, r, in, true);
            }
            if (magnitude != null && exactNormGradient) normGradient(dScale, w, a, b, out, in, r);
            if (input.requiresGrad()) inputGradient(gy, gu, w, a, tokens, out, in, r);
            tape.give(gu);
        }

        /** dL/d(m/n) per output column: the sum over tokens of gy ⊙ (W drop(x) + s·B A drop(x)). */
        private float[] scaleGradient(float[] gy, int tokens, int out) {
            float[] ds = new float[out];
            float[] y = result.data(), bias = base.bias() == null ? null : base.bias().data();
            if (unscaled != null || (droppedBase == null && bias == null)) {
                // one pass down the columns, the sums in registers; without a copy y = (m/n) ⊙ (W x + s·B A x) and
                // every m/n is non-zero
                VecOps.columnMulAdd(gy, 0, unscaled != null ? unscaled : y, 0, tokens, out, ds);
                if (unscaled == null) for (int o = 0; o < out; o++) ds[o] /= scale[o];
                return ds;
            }
            // split over output columns: each column's sum runs over the tokens in order, whatever the thread count
            Parallel.range(out, Math.max(16, rowGrain(tokens)), (o0, o1) -> {
                for (int t = 0; t < tokens; t++) {
                    int i0 = t * out;
                    if (droppedBase != null) {
                        for (int o = o0; o < o1; o++) ds[o] += gy[i0 + o] * (droppedBase[i0 + o] + v[i0 + o]);
                    } else {
                        for (int o = o0; o < o1; o++) ds[o] += gy[i0 + o] * (y[i0 + o] - bias[o]);
                    }
                }
                // without a copy, y - b = (m/n) ⊙ (W x + s·B A x), and every m/n is non-zero
                if (droppedBase == null) for (int o = o0; o < o1; o++) ds[o] /= scale[o];
            });
            return ds;
        }

        /** Adds the gradient that flows through n = ‖W + s·B·A‖ into A and B. */
        private void normGradient(float[] dScale, WeightMatrix w, float[] a, float[] b, int out, int in, int r) {
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
                float[] cbT = new float[r * out];
                for (int o = 0; o < out; o++) for (int j = 0; j < r; j++) cbT[j * out + o] = cb[o * r + j];
                float[] ga = new float[r * in];
                Gemm.gW(cbT, 0, w, null, ga, 0, r, false);
                float[] k = new float[r * r];
                Gemm.gtX(cb, 0, b, 0, k, 0, out, r, r, false);
                float[] ka = new float[r * in];
                Gemm.gW(k, 0, a, 0, ka, 0, r, r, in, false);
                float[] gA = loraA.grad();
                for (int i = 0; i < gA.length; i++) gA[i] += s * ga[i] + s * s * ka[i];
            }
        }

        /** dL/dx through the frozen weight and the adapter path, honouring the dropout mask. */
        private void inputGradient(float[] gy, float[] gu, WeightMatrix w, float[] a, int tokens, int out, int in,
                                   int r) {
            // the first contribution to x's gradient is written, not added
            Tensor.GradWrite target = input.gradForWrite();
            float[] gx = target.values();
            if (mask == null) {
                // gx (+)= gy·diag(m/n)·W + gu·A (LoRA: gy·W + gu·A)
                Gemm.gW(gy, 0, w, scale, gx, 0, tokens, target.accumulate());
                Gemm.gW(gu, 0, a, 0, gx, 0, tokens, r, in, true);
                return;
            }
            // gx (+)= gy·W + mask ⊙ (gu·A + gy·diag(m/n − 1)·W)
            Gemm.gW(gy, 0, w, null, gx, 0, tokens, target.accumulate());
            float[] gDropped = tape.floatsForOverwrite(tokens * in);
            Gemm.gW(gu, 0, a, 0, gDropped, 0, tokens, r, in, false);
            if (magnitude != null) {
                float[] scaleMinusOne = new float[out];
                for (int o = 0; o < out; o++) scaleMinusOne[o] = scale[o] - 1f;
                Gemm.gW(gy, 0, w, scaleMinusOne, gDropped, 0, tokens, true);
            }
            for (int i = 0; i < gx.length; i++) gx[i] += mask[i] * gDropped[i];
            tape.give(gDropped);
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
