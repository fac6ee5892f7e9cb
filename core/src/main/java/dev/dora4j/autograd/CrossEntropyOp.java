package dev.dora4j.autograd;

import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;

/**
 * The output head fused with token cross-entropy, a chunk of target rows at a time. Rows whose target is
 * {@link #IGNORE} are skipped entirely. When the [rows, vocab] matrix {@code softmax − onehot} fits in
 * {@code retainFloats}, the forward turns each chunk's logits into it in place and keeps it for backward, which then
 * only multiplies back through the head (scaled by {@code g / normalizer}); otherwise only [chunk, vocab] logits
 * exist at once, the forward keeps each row's logsumexp and the backward recomputes the chunk's logits (one more
 * product with the head) before turning them into {@code softmax − onehot}, as the forward would have.
 */
final class CrossEntropyOp {
    /** The target that marks a row without loss, as in PyTorch's {@code ignore_index}. */
    static final int IGNORE = -100;
    static final int DEFAULT_CHUNK_ROWS = 512;
    /** The most floats of {@code softmax − onehot} kept from forward to backward (256 MB). */
    static final long DEFAULT_RETAIN_FLOATS = 1L << 26;

    private CrossEntropyOp() {}

    // hidden: [T, dim], head: [vocab, dim], targets: [T] -> scalar loss
    static Tensor apply(Tape tape, Tensor hidden, Tensor head, int[] targets, float normalizer, int chunkRows,
                        long retainFloats) {
        int tokens = hidden.rows(), dim = hidden.cols(), vocab = head.dim(0);
        if (head.rank() != 2 || head.cols() != dim) {
            throw new IllegalArgumentException("cross entropy: head " + head + " does not match hidden " + hidden);
        }
        if (targets.length != tokens) {
            throw new IllegalArgumentException("cross entropy: " + targets.length + " targets for " + tokens + " rows");
        }
        if (!(normalizer > 0)) {
            throw new IllegalArgumentException("cross entropy: normalizer must be positive, got " + normalizer);
        }
        if (chunkRows <= 0) {
            throw new IllegalArgumentException("cross entropy: chunk rows must be positive, got " + chunkRows);
        }
        int[] rows = activeRows(targets, vocab);
        int[] rowTargets = new int[rows.length];
        for (int i = 0; i < rows.length; i++) rowTargets[i] = targets[rows[i]];
        int chunk = Math.max(1, Math.min(chunkRows, rows.length));
        boolean needsGrad = tape.needsGrad(hidden, head);
        boolean retain = needsGrad && (long) rows.length * vocab <= retainFloats;
        float[] lse = new float[rows.length];
        double[] rowLoss = new double[rows.length];
        // each chunk's rows of x and of the logits are written before they are read
        float[] x = tape.floatsForOverwrite(chunk * dim);
        // retained: every row's logits at row·vocab, turned into softmax − onehot; else one chunk at a time
        float[] logits = tape.floatsForOverwrite((retain ? rows.length : chunk) * vocab);
        for (int c0 = 0; c0 < rows.length; c0 += chunk) {
            int n = Math.min(chunk, rows.length - c0), first = c0, base = retain ? c0 : 0;
            gather(hidden.data(), rows, first, n, dim, x);
            Gemm.xWt(x, 0, head.matrix(), logits, base * vocab, n, false, null, null);
            Parallel.range(n, 1, (start, end) -> {
                for (int r = start; r < end; r++) {
                    int off = (base + r) * vocab, target = off + rowTargets[first + r];
                    float max = ExpMath.max(logits, off, vocab);
                    double rowLse = max + Math.log(ExpMath.expSum(logits, off, vocab, max));
                    lse[first + r] = (float) rowLse;
                    rowLoss[first + r] = rowLse - logits[target];
                    if (retain) {
                        ExpMath.expInPlace(logits, off, vocab, (float) rowLse, 1f);
                        logits[target] -= 1f;
                    }
                }
            });
        }
        tape.give(x);
        if (!retain) tape.give(logits);
        double sum = 0;
        for (double l : rowLoss) sum += l;
        float[] loss = {(float) (sum / normalizer)};
        Tensor result = needsGrad ? Tensor.param(loss) : Tensor.of(loss);
        if (needsGrad) {
            float[] kept = retain ? logits : null;
            tape.record("cross_entropy", result,
                    () -> backward(tape, hidden, head, rows, rowTargets, lse, kept, result.grad()[0] / normalizer, chunk),
                    kept);
        }
        return result;
    }

    // kept: softmax − onehot of every row from forward, or null to recompute each chunk's from lse
    private static void backward(Tape tape, Tensor hidden, Tensor head, int[] rows, int[] rowTargets, float[] lse,
                                 float[] kept, float coef, int chunk) {
        int dim = hidden.cols(), vocab = head.dim(0);
        if (rows.length == 0) return;
        float[] x = tape.floatsForOverwrite(chunk * dim);
        float[] logits = kept != null ? kept : tape.floatsForOverwrite(chunk * vocab);
        float[] dx = hidden.requiresGrad() ? tape.floatsForOverwrite(chunk * dim) : null;
        for (int c0 = 0; c0 < rows.length; c0 += chunk) {
            int n = Math.min(chunk, rows.length - c0), first = c0, off = kept != null ? c0 * vocab : 0;
            gather(hidden.data(), rows, first, n, dim, x);
            // the chunk's gradient of the logits is g·P with P = softmax − onehot; g is applied to the [n, dim] sides.
            // Recomputed, P is formed exactly as forward forms the kept one: the gradients are the same bits either way.
            float g = coef;
            if (kept == null) {
                Gemm.xWt(x, 0, head.matrix(), logits, 0, n, false, null, null);
                Parallel.range(n, 1, (start, end) -> {
                    for (int r = start; r < end; r++) {
                        ExpMath.expInPlace(logits, r * vocab, vocab, lse[first + r], 1f);
                        logits[r * vocab + rowTargets[first + r]] -= 1f;
                    }
                });
            }
            if (dx != null) {
                Gemm.gW(logits, off, head.matrix(), null, dx, 0, n, false);
                float[] gh = hidden.grad();
                for (int r = 0; r < n; r++) VecOps.axpy(g, dx, r * dim, gh, rows[first + r] * dim, dim);
            }
            if (head.requiresGrad()) {
                if (g != 1f) for (int i = 0; i < n * dim; i++) x[i] *= g;
                Gemm.gtX(logits, off, x, 0, head.grad(), 0, n, vocab, dim, true);
            }
        }
        tape.give(x);
        tape.give(dx);
        if (kept == null) tape.give(logits);
    }

    // indices of the rows with a target, after checking every target
    private static int[] activeRows(int[] targets, int vocab) {
        int count = 0;
        for (int t = 0; t < targets.length; t++) {
            int target = targets[t];
            if (target == IGNORE) continue;
            if (target < 0 || target >= vocab) {
                throw new IllegalArgumentException("cross entropy: target " + target + " at row " + t
                        + " outside [0, " + vocab + ") and not " + IGNORE);
            }
            count++;
        }
        int[] rows = new int[count];
        for (int t = 0, i = 0; t < targets.length; t++) if (targets[t] != IGNORE) rows[i++] = t;
        return rows;
    }

    // x: [n, dim] = hidden rows rows[first .. first + n)
    private static void gather(float[] hidden, int[] rows, int first, int n, int dim, float[] x) {
        for (int r = 0; r < n; r++) System.arraycopy(hidden, rows[first + r] * dim, x, r * dim, dim);
    }
}
