package dev.dora4j.autograd;

import dev.dora4j.kernel.FastExp;
import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The ops of a Llama-family decoder, computed in float32 as Hugging Face's {@code LlamaForCausalLM} does.
 * Token rows are laid out sequence after sequence: token t of sequence b is row {@code b·seqLen + t}.
 * Every op records its backward only when an input needs a gradient, and the backward accumulates into the
 * inputs that have gradient buffers.
 */
public final class TransformerOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Elements per parallel chunk below which element-wise work stays on one thread. */
    private static final int GRAIN_ELEMENTS = 1 << 15;

    private TransformerOps() {}

    private static int rowGrain(int cols) {
        return Math.max(1, GRAIN_ELEMENTS / Math.max(1, cols));
    }

    /** ids: [T], table: [vocab, dim] -> [T, dim]; a trainable table gets its rows' gradients scatter-added. */
    public static Tensor embedding(Tape tape, int[] ids, Tensor table) {
        if (table.rank() != 2) throw new IllegalArgumentException("embedding: table " + table + " is not [vocab, dim]");
        int vocab = table.dim(0), dim = table.dim(1);
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= vocab) {
                throw new IllegalArgumentException("embedding: token id " + ids[t] + " at position " + t
                        + " outside [0, " + vocab + ")");
            }
        }
        int[] rows = ids.clone();
        float[] y = tape.floatsForOverwrite(rows.length * dim);
        WeightMatrix w = table.matrix();
        for (int t = 0; t < rows.length; t++) w.dequantizeRow(rows[t], 0, dim, y, t * dim);
        Tensor result = Ops.output(tape, y, new int[] {rows.length, dim}, table);
        if (result.requiresGrad()) {
            tape.record("embedding", result, () -> {
                float[] g = result.grad(), gw = table.grad();
                for (int t = 0; t < rows.length; t++) VecOps.axpy(1f, g, t * dim, gw, rows[t] * dim, dim);
            });
        } else {
            tape.recordNoGrad(y);
        }
        return result;
    }

    /** x: [T, dim], weight: [dim] -> y = x / sqrt(mean(x²) + eps) ⊙ weight, as HF's LlamaRMSNorm. */
    public static Tensor rmsNorm(Tape tape, Tensor x, Tensor weight, float eps) {
        int rows = x.rows(), dim = x.cols();
        if (weight.numel() != dim) {
            throw new IllegalArgumentException("rmsNorm: weight " + weight + " does not match " + dim + " features");
        }
        float[] xd = x.data(), w = weight.data();
        float[] y = tape.floatsForOverwrite(xd.length);
        float[] inv = tape.floatsForOverwrite(rows);
        Parallel.range(rows, rowGrain(dim), (start, end) -> {
            for (int r = start; r < end; r++) {
                float variance = VecOps.sumSquares(xd, r * dim, dim) / dim;
                inv[r] = (float) (1.0 / Math.sqrt(variance + eps));
                rmsNormScale(xd, w, inv, y, r, dim);
            }
        });
        Tensor result = Ops.output(tape, y, x.shape(), x, weight);
        if (result.requiresGrad()) {
            tape.record("rms_norm", result, () -> rmsNormBackward(x, weight, result.grad(), inv), inv);
            // the same values again from x and the saved 1/rms, which backward keeps anyway
            tape.recomputable(result, "rms_norm", values -> {
                float[] xv = x.data(), wv = weight.data();
                Parallel.range(rows, rowGrain(dim), (start, end) -> {
                    for (int r = start; r < end; r++) rmsNormScale(xv, wv, inv, values, r, dim);
                });
            });
        } else {
            tape.recordNoGrad(y, inv);
        }
        return result;
    }

    // row r of y = w ⊙ (x · inv)
    private static void rmsNormScale(float[] xd, float[] w, float[] inv, float[] y, int r, int dim) {
        int off = r * dim;
        float ri = inv[r];
        for (int i = 0; i < dim; i++) y[off + i] = w[i] * (xd[off + i] * ri);
    }

    // dx = r·(g ⊙ w) − r³·x·<g ⊙ w, x>/dim, dw = Σ_rows g ⊙ x·r
    private static void rmsNormBackward(Tensor x, Tensor weight, float[] g, float[] inv) {
        int rows = x.rows(), dim = x.cols();
        float[] xd = x.data(), w = weight.data();
        if (x.requiresGrad()) {
            Tensor.GradWrite target = x.gradForWrite();
            float[] gx = target.values();
            boolean acc = target.accumulate();
            Parallel.range(rows, rowGrain(dim), (start, end) -> {
                for (int r = start; r < end; r++) {
                    int off = r * dim;
                    float ri = inv[r];
                    float c = ri * ri * ri * tripleDot(g, w, xd, off, dim) / dim;
                    for (int i = 0; i < dim; i++) {
                        float d = ri * g[off + i] * w[i] - c * xd[off + i];
                        gx[off + i] = acc ? gx[off + i] + d : d;
                    }
                }
            });
        }
        if (weight.requiresGrad()) {
            float[] gw = weight.grad();
            Parallel.range(dim, Math.max(16, rowGrain(rows)), (start, end) -> {
                for (int r = 0; r < rows; r++) {
                    int off = r * dim;
                    float ri = inv[r];
                    for (int i = start; i < end; i++) gw[i] += g[off + i] * xd[off + i] * ri;
                }
            });
        }
    }

    // Σ_i a[off + i]·w[i]·b[off + i]
    private static float tripleDot(float[] a, float[] w, float[] b, int off, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector aw = FloatVector.fromArray(S, a, off + i).mul(FloatVector.fromArray(S, w, i));
            acc = aw.fma(FloatVector.fromArray(S, b, off + i), acc);
        }
        float sum = FastExp.sumLanes(acc);
        for (; i < n; i++) sum += a[off + i] * w[i] * b[off + i];
        return sum;
    }

    /**
     * x: [T, heads·D] -> same shape, each head rotated by its row's position with HF's rotate_half convention:
     * dimension i < D/2 pairs with i + D/2, {@code out = x·cos + rotate_half(x)·sin}.
     */
    public static Tensor rope(Tape tape, Tensor x, int heads, RopeTable table, int[] positions) {
        Rotation rot = Rotation.of(x, heads, table, positions);
        float[] y = tape.floatsForOverwrite(x.numel());
        rot.apply(x.data(), y, false, false);
        Tensor result = Ops.output(tape, y, x.shape(), x);
        if (result.requiresGrad()) {
            tape.record("rope", result, () -> {
                Tensor.GradWrite gx = x.gradForWrite();
                rot.apply(result.grad(), gx.values(), true, gx.accumulate());
            });
        }
        return result;
    }

    /**
     * {@link #rope}, written over x's values when its producer {@link Tensor#markOverwritable marked them
     * overwritable} and the caller is their only reader (a projection's output): returns x, rotated, whose gradient
     * backward turns back in place into the gradient of the unrotated values. The same values and gradients as
     * {@link #rope}, without a second buffer; otherwise it is {@link #rope}.
     */
    public static Tensor ropeInPlace(Tape tape, Tensor x, int heads, RopeTable table, int[] positions) {
        if (!x.overwritable()) return rope(tape, x, heads, table, positions);
        Rotation rot = Rotation.of(x, heads, table, positions);
        rot.apply(x.data(), x.data(), false, false);
        if (tape.needsGrad(x)) tape.record("rope", () -> rot.apply(x.grad(), x.grad(), true, false));
        return x;
    }

    /** The rotation of every head of x's rows by the row's position: the checked arguments of {@link #rope}. */
    private record Rotation(int rows, int cols, int heads, int headDim, int[] pos, float[] cos, float[] sin) {
        static Rotation of(Tensor x, int heads, RopeTable table, int[] positions) {
            int rows = x.rows(), d = table.headDim();
            if (x.cols() != heads * d) {
                throw new IllegalArgumentException("rope: x " + x + " is not [T, " + heads + "·" + d + "]");
            }
            if (positions.length != rows) {
                throw new IllegalArgumentException("rope: " + positions.length + " positions for " + rows + " rows");
            }
            int[] pos = positions.clone();
            int last = -1;
            for (int p : pos) last = Math.max(last, table.checkedPosition(p));
            RopeTable.Values values = table.covering(last + 1);
            return new Rotation(rows, x.cols(), heads, d, pos, values.cos(), values.sin());
        }

        // dst = R·src, or Rᵀ·src when inverse (the backward of a rotation); dst may be src; added to dst when
        // accumulate. Rᵀ uses −sin: a·cos − b·(−sin) is a·cos + b·sin bit for bit.
        void apply(float[] src, float[] dst, boolean inverse, boolean accumulate) {
            int half = headDim / 2;
            Parallel.range(rows, rowGrain(cols), (start, end) -> {
                for (int r = start; r < end; r++) {
                    int c = pos[r] * half;
                    for (int h = 0; h < heads; h++) {
                        int off = r * cols + h * headDim;
                        for (int i = 0; i < half; i++) {
                            float a = src[off + i], b = src[off + i + half];
                            float cs = cos[c + i], sn = inverse ? -sin[c + i] : sin[c + i];
                            float ra = a * cs - b * sn, rb = b * cs + a * sn;
                            if (accumulate) {
                                dst[off + i] += ra;
                                dst[off + i + half] += rb;
                            } else {
                                dst[off + i] = ra;
                                dst[off + i + half] = rb;
                            }
                        }
                    }
                }
            });
        }
    }

    /**
     * Causal grouped-query attention per sequence. q: [T, heads·D], k, v: [T, kvHeads·D] (already rotated)
     * -> out: [T, heads·D]; head h reads kv head h / (heads / kvHeads), scores are scaled by 1/sqrt(D), and row t
     * of a sequence attends to positions 0..t of the same sequence.
     */
    public static Tensor causalAttention(Tape tape, Tensor q, Tensor k, Tensor v, int batch, int seqLen, int heads,
                                         int kvHeads, int headDim) {
        return AttentionOp.apply(tape, q, k, v, batch, seqLen, heads, kvHeads, headDim);
    }

    /** silu(gate) ⊙ up, same shapes, with silu(g) = g / (1 + exp(−g)). */
    public static Tensor swiglu(Tape tape, Tensor gate, Tensor up) {
        if (gate.numel() != up.numel()) {
            throw new IllegalArgumentException("swiglu: shapes differ: " + gate + " vs " + up);
        }
        float[] y = tape.floatsForOverwrite(gate.numel());
        swigluForward(gate.data(), up.data(), y);
        Tensor result = Ops.output(tape, y, gate.shape(), gate, up);
        if (result.requiresGrad()) {
            tape.record("swiglu", result, () -> swigluBackward(gate, up, result.grad()));
            // backward keeps gate and up anyway: the output is computed again from them
            tape.recomputable(result, "swiglu", values -> swigluForward(gate.data(), up.data(), values));
        }
        return result;
    }

    private static void swigluForward(float[] g, float[] u, float[] y) {
        Parallel.range(g.length, GRAIN_ELEMENTS, (start, end) -> {
            int i = start;
            for (int bound = start + S.loopBound(end - start); i < bound; i += S.length()) swigluForward(g, u, y, i);
            for (; i < end; i++) y[i] = g[i] / (FastExp.exp(-g[i]) + 1f) * u[i];
        });
    }

    // d/dg = gy·u·σ(g)·(1 + g·(1 − σ(g))), d/du = gy·silu(g)
    // (each gradient written when it is its first contribution, else added to)
    private static void swigluBackward(Tensor gate, Tensor up, float[] gy) {
        float[] g = gate.data(), u = up.data();
        // asked for, and written at each element, gate's first: one tensor as both inputs then adds up's to gate's
        Tensor.GradWrite gateGrad = gate.gradForWrite(), upGrad = up.gradForWrite();
        float[] gg = gateGrad == null ? null : gateGrad.values(), gu = upGrad == null ? null : upGrad.values();
        boolean accG = gateGrad != null && gateGrad.accumulate(), accU = upGrad != null && upGrad.accumulate();
        Parallel.range(g.length, GRAIN_ELEMENTS, (start, end) -> {
            int i = start;
            for (int bound = start + S.loopBound(end - start); i < bound; i += S.length()) {
                swigluBackward(g, u, gy, gg, accG, gu, accU, i);
            }
            for (; i < end; i++) {
                float gi = g[i], dy = gy[i], sig = 1f / (FastExp.exp(-gi) + 1f);
                if (gg != null) {
                    float d = dy * u[i] * (sig * (gi * (-sig + 1f) + 1f));
                    gg[i] = accG ? gg[i] + d : d;
                }
                if (gu != null) gu[i] = accU ? gu[i] + dy * (gi * sig) : dy * (gi * sig);
            }
        });
    }

    // one vector of y = silu(g) ⊙ u at i; the tail loops in swiglu compute the same ops lane by lane
    private static void swigluForward(float[] g, float[] u, float[] y, int i) {
        FloatVector gv = FloatVector.fromArray(S, g, i);
        FloatVector silu = gv.div(FastExp.exp(gv.neg()).add(1f));
        silu.mul(FloatVector.fromArray(S, u, i)).intoArray(y, i);
    }

    // one vector of the swiglu gradients at i
    private static void swigluBackward(float[] g, float[] u, float[] gy, float[] gg, boolean accG, float[] gu,
                                       boolean accU, int i) {
        FloatVector gv = FloatVector.fromArray(S, g, i);
        FloatVector dy = FloatVector.fromArray(S, gy, i);
        FloatVector sig = FloatVector.broadcast(S, 1f).div(FastExp.exp(gv.neg()).add(1f));
        if (gg != null) {
            FloatVector dsilu = sig.mul(gv.mul(sig.neg().add(1f)).add(1f));
            FloatVector du = dy.mul(FloatVector.fromArray(S, u, i)).mul(dsilu);
            (accG ? FloatVector.fromArray(S, gg, i).add(du) : du).intoArray(gg, i);
        }
        if (gu != null) {
            FloatVector d = dy.mul(gv.mul(sig));
            (accU ? FloatVector.fromArray(S, gu, i).add(d) : d).intoArray(gu, i);
        }
    }

    /**
     * The output head fused with cross-entropy: hidden: [T, dim], head: [vocab, dim], targets: [T] (−100 =
     * ignored) -> scalar {@code Σ_t −log softmax(hidden_t·headᵀ)[targets[t]] / normalizer}, where the normalizer
     * is the number of target tokens of the whole optimizer batch. Logits are computed a chunk of rows at a time;
     * their gradient is kept from forward to backward when it takes at most 256 MB, else recomputed in backward.
     */
    public static Tensor crossEntropyWithHead(Tape tape, Tensor hidden, Tensor head, int[] targets, float normalizer) {
        return CrossEntropyOp.apply(tape, hidden, head, targets, normalizer, CrossEntropyOp.DEFAULT_CHUNK_ROWS,
                CrossEntropyOp.DEFAULT_RETAIN_FLOATS);
    }

    /**
     * {@link #crossEntropyWithHead(Tape, Tensor, Tensor, int[], float)} keeping as little as it can, for runs that
     * recompute rather than keep (activation checkpointing): nothing of the logits from forward to backward, which
     * computes them again (one more product with the head), and at most 32 MB of them at once.
     */
    public static Tensor crossEntropyWithHeadRecomputed(Tape tape, Tensor hidden, Tensor head, int[] targets,
            float normalizer) {
        int chunkRows = (int) Math.max(16, Math.min(CrossEntropyOp.DEFAULT_CHUNK_ROWS, (1L << 23) / head.dim(0)));
        return CrossEntropyOp.apply(tape, hidden, head, targets, normalizer, chunkRows, 0);
    }

    /**
     * As {@link #crossEntropyWithHead(Tape, Tensor, Tensor, int[], float)} with {@code chunkRows} rows per chunk, the
     * logits' gradient kept for backward only when it has at most {@code retainFloats} values.
     */
    static Tensor crossEntropyWithHead(Tape tape, Tensor hidden, Tensor head, int[] targets, float normalizer,
                                       int chunkRows, long retainFloats) {
        return CrossEntropyOp.apply(tape, hidden, head, targets, normalizer, chunkRows, retainFloats);
    }

    /** hidden: [T, dim], head: [vocab, dim] -> logits: [T, vocab], for inference (no tape). */
    public static float[] logits(Tensor hidden, Tensor head) {
        int tokens = hidden.rows(), dim = hidden.cols();
        if (head.rank() != 2 || head.cols() != dim) {
            throw new IllegalArgumentException("logits: head " + head + " does not match hidden " + hidden);
        }
        int vocab = head.dim(0);
        float[] y = new float[Math.multiplyExact(tokens, vocab)];
        Gemm.xWt(hidden.data(), 0, head.matrix(), y, 0, tokens, false, null, null);
        return y;
    }
}
