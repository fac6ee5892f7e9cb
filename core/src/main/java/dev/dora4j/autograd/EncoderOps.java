package dev.dora4j.autograd;

import dev.dora4j.kernel.Erf;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;

/**
 * The ops of a BERT-style encoder, computed in float32 as Hugging Face's {@code BertModel} does: LayerNorm, exact
 * (erf) GELU, bidirectional attention, pooling and class-logit cross-entropy. Sequences of different lengths lie end
 * to end: {@code offsets} (length batch + 1, {@code offsets[0] = 0}, strictly increasing) marks where each one
 * starts, and its last entry is the number of token rows. Transcendental functions are {@link Erf} and
 * {@link StrictMath}'s, so results are the same bits in every JIT state, and work is split by rows so they do not
 * depend on the thread count.
 */
public final class EncoderOps {
    /** Elements per parallel chunk below which element-wise work stays on one thread. */
    private static final int GRAIN_ELEMENTS = 1 << 14;

    private EncoderOps() {}

    private static int rowGrain(int cols) {
        return Math.max(1, GRAIN_ELEMENTS / Math.max(1, cols));
    }

    /** Checks {@code offsets} against {@code rows} token rows; returns the number of sequences. */
    public static int checkOffsets(int[] offsets, int rows, String op) {
        if (offsets == null || offsets.length < 2) {
            throw new IllegalArgumentException(op + ": offsets must hold at least two entries (one sequence)");
        }
        if (offsets[0] != 0) throw new IllegalArgumentException(op + ": offsets[0] must be 0, got " + offsets[0]);
        for (int b = 1; b < offsets.length; b++) {
            if (offsets[b] <= offsets[b - 1]) {
                throw new IllegalArgumentException(op + ": sequence " + (b - 1) + " is empty or offsets decrease ("
                        + offsets[b - 1] + " then " + offsets[b] + ")");
            }
        }
        if (offsets[offsets.length - 1] != rows) {
            throw new IllegalArgumentException(op + ": offsets end at " + offsets[offsets.length - 1] + " but there are "
                    + rows + " rows");
        }
        return offsets.length - 1;
    }

    /**
     * x: [T, dim], weight, bias: [dim] -> y = (x − mean) / sqrt(var + eps) ⊙ weight + bias per row, with the biased
     * variance, as {@code torch.nn.LayerNorm}. Row statistics are summed in double.
     */
    public static Tensor layerNorm(Tape tape, Tensor x, Tensor weight, Tensor bias, float eps) {
        int rows = x.rows(), dim = x.cols();
        if (weight.numel() != dim || bias.numel() != dim) {
            throw new IllegalArgumentException("layerNorm: weight " + weight + " or bias " + bias + " does not match "
                    + dim + " features");
        }
        float[] xd = x.data(), w = weight.data(), bd = bias.data();
        float[] y = new float[xd.length];
        float[] mean = new float[rows], inv = new float[rows];
        Parallel.range(rows, rowGrain(dim), (start, end) -> {
            for (int r = start; r < end; r++) {
                int off = r * dim;
                double s = 0;
                for (int i = 0; i < dim; i++) s += xd[off + i];
                double mu = s / dim, ss = 0;
                for (int i = 0; i < dim; i++) {
                    double d = xd[off + i] - mu;
                    ss += d * d;
                }
                float m = (float) mu, ri = (float) (1.0 / Math.sqrt(ss / dim + eps));
                mean[r] = m;
                inv[r] = ri;
                for (int i = 0; i < dim; i++) y[off + i] = (xd[off + i] - m) * ri * w[i] + bd[i];
            }
        });
        Tensor result = Ops.output(tape, y, x.shape(), x, weight, bias);
        if (result.requiresGrad()) {
            tape.record("layer_norm", () -> layerNormBackward(x, weight, bias, result.grad(), mean, inv));
        }
        return result;
    }

    // x̂ = (x − mean)·r, ĝ = g ⊙ w: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)), dw = Σ_rows g ⊙ x̂, db = Σ_rows g
    private static void layerNormBackward(Tensor x, Tensor weight, Tensor bias, float[] g, float[] mean, float[] inv) {
        int rows = x.rows(), dim = x.cols();
        float[] xd = x.data(), w = weight.data();
        if (x.requiresGrad()) {
            float[] gx = x.grad();
            Parallel.range(rows, rowGrain(dim), (start, end) -> {
                for (int r = start; r < end; r++) {
                    int off = r * dim;
                    float m = mean[r], ri = inv[r];
                    double sg = 0, sgx = 0;
                    for (int i = 0; i < dim; i++) {
                        float gh = g[off + i] * w[i];
                        sg += gh;
                        sgx += gh * ((xd[off + i] - m) * ri);
                    }
                    float meanG = (float) (sg / dim), meanGx = (float) (sgx / dim);
                    for (int i = 0; i < dim; i++) {
                        float xh = (xd[off + i] - m) * ri;
                        gx[off + i] += ri * (g[off + i] * w[i] - meanG - xh * meanGx);
                    }
                }
            });
        }
        if (weight.requiresGrad() || bias.requiresGrad()) {
            float[] gw = weight.grad(), gb = bias.grad();
            Parallel.range(dim, Math.max(16, rowGrain(rows)), (start, end) -> {
                for (int r = 0; r < rows; r++) {
                    int off = r * dim;
                    float m = mean[r], ri = inv[r];
                    for (int i = start; i < end; i++) {
                        if (gw != null) gw[i] += g[off + i] * ((xd[off + i] - m) * ri);
                        if (gb != null) gb[i] += g[off + i];
                    }
                }
            });
        }
    }

    /**
     * The GELU of transformers' {@code "gelu"}, {@code 0.5·x·(1 + erf(x/√2))}, per element, same shape: the float
     * kernel {@link VecOps#gelu}, within 1.5e-7·max(1, |x|) of {@link #gelu(double)}.
     */
    public static Tensor gelu(Tape tape, Tensor x) {
        float[] xd = x.data();
        float[] y = new float[xd.length];
        Parallel.range(xd.length, GRAIN_ELEMENTS, (start, end) -> VecOps.gelu(xd, start, y, start, end - start));
        Tensor result = Ops.output(tape, y, x.shape(), x);
        if (result.requiresGrad()) {
            tape.record("gelu", () -> {
                float[] g = result.grad(), gx = x.grad();
                Parallel.range(xd.length, GRAIN_ELEMENTS,
                        (start, end) -> VecOps.geluBackward(xd, start, g, start, gx, start, end - start));
            });
        }
        return result;
    }

    /** GELU in double, the reference the float kernel is held to ({@link dev.dora4j.kernel.Gelu#exact}). */
    public static double gelu(double x) {
        return dev.dora4j.kernel.Gelu.exact(x);
    }

    /** tanh per element, same shape. */
    public static Tensor tanh(Tape tape, Tensor x) {
        float[] xd = x.data();
        float[] y = new float[xd.length];
        for (int i = 0; i < xd.length; i++) y[i] = (float) StrictMath.tanh(xd[i]);
        Tensor result = Ops.output(tape, y, x.shape(), x);
        if (result.requiresGrad()) {
            tape.record("tanh", () -> {
                float[] g = result.grad(), gx = x.grad();
                for (int i = 0; i < y.length; i++) gx[i] += g[i] * (1f - y[i] * y[i]);
            });
        }
        return result;
    }

    /**
     * Bidirectional multi-head attention within each sequence. q, k, v: [T, heads·D] -> [T, heads·D]; token t of
     * sequence b attends to every token of b, scores scaled by 1/sqrt(D). This is what transformers' BERT computes
     * at the non-padding positions of a padded batch with an attention mask.
     */
    public static Tensor bidirectionalAttention(Tape tape, Tensor q, Tensor k, Tensor v, int[] offsets, int heads,
                                                int headDim) {
        checkOffsets(offsets, q.rows(), "attention");
        return AttentionOp.apply(tape, q, k, v, offsets, heads, heads, headDim, false);
    }

    /** h: [T, dim] -> [batch, dim]: the mean of each sequence's rows. */
    public static Tensor meanPool(Tape tape, Tensor h, int[] offsets) {
        int batch = checkOffsets(offsets, h.rows(), "meanPool"), dim = h.cols();
        float[] hd = h.data();
        float[] y = new float[batch * dim];
        for (int b = 0; b < batch; b++) {
            for (int t = offsets[b]; t < offsets[b + 1]; t++) VecOps.axpy(1f, hd, t * dim, y, b * dim, dim);
            float n = offsets[b + 1] - offsets[b];
            for (int i = 0; i < dim; i++) y[b * dim + i] /= n;
        }
        int[] offs = offsets.clone();
        Tensor result = Ops.output(tape, y, new int[] {batch, dim}, h);
        if (result.requiresGrad()) {
            tape.record("mean_pool", () -> {
                float[] g = result.grad(), gh = h.grad();
                for (int b = 0; b < batch; b++) {
                    float scale = 1f / (offs[b + 1] - offs[b]);
                    for (int t = offs[b]; t < offs[b + 1]; t++) VecOps.axpy(scale, g, b * dim, gh, t * dim, dim);
                }
            });
        }
        return result;
    }

    /** h: [T, dim] -> [rows.length, dim], row i = h[rows[i]] (e.g. the first token of each sequence). */
    public static Tensor selectRows(Tape tape, Tensor h, int[] rows) {
        int dim = h.cols(), n = h.rows();
        int[] picked = rows.clone();
        float[] hd = h.data();
        float[] y = new float[picked.length * dim];
        for (int i = 0; i < picked.length; i++) {
            if (picked[i] < 0 || picked[i] >= n) {
                throw new IllegalArgumentException("selectRows: row " + picked[i] + " outside [0, " + n + ")");
            }
            System.arraycopy(hd, picked[i] * dim, y, i * dim, dim);
        }
        Tensor result = Ops.output(tape, y, new int[] {picked.length, dim}, h);
        if (result.requiresGrad()) {
            tape.record("select_rows", () -> {
                float[] g = result.grad(), gh = h.grad();
                for (int i = 0; i < picked.length; i++) VecOps.axpy(1f, g, i * dim, gh, picked[i] * dim, dim);
            });
        }
        return result;
    }

    /**
     * Class-logit cross-entropy: logits: [B, C], targets: [B] (−100 = ignored) -> scalar
     * {@code Σ_b (logsumexp(logits_b) − logits_b[targets[b]]) / normalizer}, summed in double.
     */
    public static Tensor crossEntropy(Tape tape, Tensor logits, int[] targets, float normalizer) {
        int rows = logits.rows(), classes = logits.cols();
        if (targets.length != rows) {
            throw new IllegalArgumentException("crossEntropy: " + targets.length + " targets for " + rows + " rows");
        }
        if (!(normalizer > 0)) {
            throw new IllegalArgumentException("crossEntropy: normalizer must be positive, got " + normalizer);
        }
        for (int r = 0; r < rows; r++) {
            if (targets[r] != CrossEntropyOp.IGNORE && (targets[r] < 0 || targets[r] >= classes)) {
                throw new IllegalArgumentException("crossEntropy: target " + targets[r] + " at row " + r
                        + " outside [0, " + classes + ") and not " + CrossEntropyOp.IGNORE);
            }
        }
        int[] tg = targets.clone();
        float[] z = logits.data();
        double[] lse = new double[rows];
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            if (tg[r] == CrossEntropyOp.IGNORE) continue;
            int off = r * classes;
            double max = Double.NEGATIVE_INFINITY, s = 0;
            for (int c = 0; c < classes; c++) max = Math.max(max, z[off + c]);
            for (int c = 0; c < classes; c++) s += StrictMath.exp(z[off + c] - max);
            lse[r] = max + StrictMath.log(s);
            sum += lse[r] - z[off + tg[r]];
        }
        Tensor result = Ops.output(tape, new float[] {(float) (sum / normalizer)}, new int[0], logits);
        if (result.requiresGrad()) {
            tape.record("cross_entropy", () -> {
                double coef = result.grad()[0] / (double) normalizer;
                float[] gz = logits.grad();
                for (int r = 0; r < rows; r++) {
                    if (tg[r] == CrossEntropyOp.IGNORE) continue;
                    int off = r * classes;
                    for (int c = 0; c < classes; c++) {
                        double p = StrictMath.exp(z[off + c] - lse[r]);
                        gz[off + c] += (float) (coef * (c == tg[r] ? p - 1 : p));
                    }
                }
            });
        }
        return result;
    }
}
