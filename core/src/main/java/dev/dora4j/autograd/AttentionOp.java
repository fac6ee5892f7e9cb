package dev.dora4j.autograd;

import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Causal grouped-query attention with a recomputing backward. Work is split by (sequence, query head); each task
 * copies its head's rows into contiguous [seqLen, D] buffers and walks blocks of {@link #BLOCK} query rows, so
 * scores and their gradients exist for one block at a time and the products run through {@link Gemm}. The
 * forward keeps only the logsumexp of each (row, head) softmax; the backward recomputes the probabilities from
 * q, k and that logsumexp and applies {@code dS = P ⊙ (dO·Vᵀ − rowsum(dO ⊙ O))}. Key and value gradients of
 * the query heads that share a kv head are summed in a fixed order, so results do not depend on the thread
 * count.
 */
final class AttentionOp {
    /** Query rows per block. */
    private static final int BLOCK = 64;

    private AttentionOp() {}

    // q: [T, heads*D], k, v: [T, kvHeads*D] -> out: [T, heads*D], T = batch·seqLen
    static Tensor apply(Tape tape, Tensor q, Tensor k, Tensor v, int batch, int seqLen, int heads, int kvHeads,
                        int headDim) {
        Shape s = new Shape(batch, seqLen, heads, kvHeads, headDim);
        s.check(q, k, v);
        float[] out = new float[s.tokens() * s.qStride()];
        float[] lse = new float[batch * heads * seqLen];
        Parallel.range(batch * heads, 1, (start, end) -> {
            Workspace w = new Workspace(s, false);
            for (int task = start; task < end; task++) forwardHead(s, task, q.data(), k.data(), v.data(), out, lse, w);
        });
        boolean needsGrad = tape.needsGrad(q, k, v);
        int[] shape = {s.tokens(), s.qStride()};
        Tensor result = needsGrad ? Tensor.param(out, shape) : Tensor.of(out, shape);
        if (needsGrad) tape.record("attention", () -> backward(s, q, k, v, result, lse));
        return result;
    }

    private record Shape(int batch, int seqLen, int heads, int kvHeads, int headDim) {
        int tokens() {
            return batch * seqLen;
        }

        int qStride() {
            return heads * headDim;
        }

        int kvStride() {
            return kvHeads * headDim;
        }

        int group() {
            return heads / kvHeads;
        }

        float scale() {
            return (float) (1.0 / Math.sqrt(headDim));
        }

        void check(Tensor q, Tensor k, Tensor v) {
            if (batch <= 0 || seqLen <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("attention: sizes must be positive: " + this);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException(
                        "attention: heads " + heads + " not a multiple of kv heads " + kvHeads);
            }
            long t = (long) batch * seqLen;
            if (q.numel() != t * qStride()) {
                throw new IllegalArgumentException("attention: q " + q + " is not [" + t + ", " + qStride() + "]");
            }
            if (k.numel() != t * kvStride()) {
                throw new IllegalArgumentException("attention: k " + k + " is not [" + t + ", " + kvStride() + "]");
            }
            if (v.numel() != t * kvStride()) {
                throw new IllegalArgumentException("attention: v " + v + " is not [" + t + ", " + kvStride() + "]");
            }
        }
    }

    /** One task's buffers: a head's rows as [seqLen, D] and one block's scores [BLOCK, seqLen]. */
    private static final class Workspace {
        final float[] q, k, v, scores, block;
        final float[] gradOut, out, dq, dScores, rowDot;

        Workspace(Shape s, boolean backward) {
            int rows = s.seqLen() * s.headDim(), blockScores = Math.min(BLOCK, s.seqLen()) * s.seqLen();
            q = new float[rows];
            k = new float[rows];
            v = new float[rows];
            scores = new float[blockScores];
            block = new float[Math.min(BLOCK, s.seqLen()) * s.headDim()];
            gradOut = backward ? new float[rows] : null;
            out = backward ? new float[rows] : null;
            dq = backward ? new float[rows] : null;
            dScores = backward ? new float[blockScores] : null;
            rowDot = backward ? new float[s.seqLen()] : null;
        }
    }

    // dst: [seqLen, D] = columns [col, col + D) of rows first .. first + seqLen of src (row stride `stride`)
    private static void gather(float[] src, int first, int stride, int col, Shape s, float[] dst) {
        int d = s.headDim();
        for (int t = 0; t < s.seqLen(); t++) System.arraycopy(src, (first + t) * stride + col, dst, t * d, d);
    }

    private static int block(int t0, Shape s) {
        return Math.min(BLOCK, s.seqLen() - t0);
    }

    // one (sequence b, head h): row t attends to rows 0..t of its sequence
    private static void forwardHead(Shape s, int task, float[] q, float[] k, float[] v, float[] out, float[] lse,
                                    Workspace w) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim(), first = b * s.seqLen();
        int kvCol = (h / s.group()) * d;
        gather(q, first, s.qStride(), h * d, s, w.q);
        gather(k, first, s.kvStride(), kvCol, s, w.k);
        gather(v, first, s.kvStride(), kvCol, s, w.v);
        float scale = s.scale();
        for (int t0 = 0; t0 < s.seqLen(); t0 += BLOCK) {
            int m = block(t0, s), n = t0 + m;
            // scores: [m, n] = q[t0 .. t0 + m)·k[0 .. n)ᵀ
            Gemm.xWt(w.q, t0 * d, w.k, 0, w.scores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n, valid = t0 + r + 1;
                VecOps.scale(scale, w.scores, row, valid);
                float max = ExpMath.max(w.scores, row, valid);
                float sum = ExpMath.expInPlace(w.scores, row, valid, max, 1f);
                VecOps.scale(1f / sum, w.scores, row, valid);
                Arrays.fill(w.scores, row + valid, row + n, 0f);
                lse[task * s.seqLen() + t0 + r] = max + (float) Math.log(sum);
            }
            // block: [m, D] = P·v[0 .. n)
            Gemm.gW(w.scores, 0, w.v, 0, w.block, 0, m, n, d, false);
            for (int r = 0; r < m; r++) {
                System.arraycopy(w.block, r * d, out, (first + t0 + r) * s.qStride() + h * d, d);
            }
        }
    }

    private static void backward(Shape s, Tensor q, Tensor k, Tensor v, Tensor out, float[] lse) {
        int headRows = s.seqLen() * s.headDim();
        // per-query-head key and value gradients: [batch·heads, seqLen, D]
        float[] dkHeads = k.requiresGrad() ? new float[s.batch() * s.heads() * headRows] : null;
        float[] dvHeads = v.requiresGrad() ? new float[s.batch() * s.heads() * headRows] : null;
        Parallel.range(s.batch() * s.heads(), 1, (start, end) -> {
            Workspace w = new Workspace(s, true);
            for (int task = start; task < end; task++) backwardHead(s, task, q, k, v, out, lse, dkHeads, dvHeads, w);
        });
        int d = s.headDim();
        Parallel.range(s.batch() * s.kvHeads(), 1, (start, end) -> {
            for (int task = start; task < end; task++) {
                int b = task / s.kvHeads(), kvh = task % s.kvHeads();
                for (int g = 0; g < s.group(); g++) {
                    int from = (b * s.heads() + kvh * s.group() + g) * headRows;
                    for (int j = 0; j < s.seqLen(); j++) {
                        int to = (b * s.seqLen() + j) * s.kvStride() + kvh * d;
                        if (dkHeads != null) VecOps.axpy(1f, dkHeads, from + j * d, k.grad(), to, d);
                        if (dvHeads != null) VecOps.axpy(1f, dvHeads, from + j * d, v.grad(), to, d);
                    }
                }
            }
        });
    }

    private static void backwardHead(Shape s, int task, Tensor q, Tensor k, Tensor v, Tensor out, float[] lse,
                                     float[] dkHeads, float[] dvHeads, Workspace w) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim(), first = b * s.seqLen();
        int kvCol = (h / s.group()) * d, headOff = task * s.seqLen() * d;
        boolean scoresNeeded = q.requiresGrad() || dkHeads != null;
        gather(q.data(), first, s.qStride(), h * d, s, w.q);
        gather(k.data(), first, s.kvStride(), kvCol, s, w.k);
        gather(out.grad(), first, s.qStride(), h * d, s, w.gradOut);
        if (scoresNeeded) {
            gather(v.data(), first, s.kvStride(), kvCol, s, w.v);
            gather(out.data(), first, s.qStride(), h * d, s, w.out);
            for (int t = 0; t < s.seqLen(); t++) w.rowDot[t] = VecOps.dot(w.gradOut, t * d, w.out, t * d, d);
        }
        float scale = s.scale();
        for (int t0 = 0; t0 < s.seqLen(); t0 += BLOCK) {
            int m = block(t0, s), n = t0 + m;
            // P: [m, n], recomputed from the scores and each row's logsumexp
            Gemm.xWt(w.q, t0 * d, w.k, 0, w.scores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n, valid = t0 + r + 1;
                VecOps.scale(scale, w.scores, row, valid);
                ExpMath.expInPlace(w.scores, row, valid, lse[task * s.seqLen() + t0 + r], 1f);
                Arrays.fill(w.scores, row + valid, row + n, 0f);
            }
            // dv[0 .. n) += Pᵀ·dO
            if (dvHeads != null) Gemm.gtX(w.scores, 0, w.gradOut, t0 * d, dvHeads, headOff, m, n, d, true);
            if (!scoresNeeded) continue;
            // dS: [m, n] = P ⊙ (dO·vᵀ − rowsum(dO ⊙ O)) · scale
            Gemm.xWt(w.gradOut, t0 * d, w.v, 0, w.dScores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n;
                float rowDot = w.rowDot[t0 + r];
                for (int j = 0; j < n; j++) {
                    w.dScores[row + j] = w.scores[row + j] * (w.dScores[row + j] - rowDot) * scale;
                }
            }
            // dq[t0 .. t0 + m) = dS·k[0 .. n), dk[0 .. n) += dSᵀ·q[t0 .. t0 + m)
            if (q.requiresGrad()) Gemm.gW(w.dScores, 0, w.k, 0, w.dq, t0 * d, m, n, d, false);
            if (dkHeads != null) Gemm.gtX(w.dScores, 0, w.q, t0 * d, dkHeads, headOff, m, n, d, true);
        }
        if (q.requiresGrad()) {
            float[] gq = q.grad();
            for (int t = 0; t < s.seqLen(); t++) VecOps.axpy(1f, w.dq, t * d, gq, (first + t) * s.qStride() + h * d, d);
        }
    }
}
