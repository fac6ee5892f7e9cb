package dev.dora4j.autograd;

import dev.dora4j.kernel.Gemm;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Grouped-query attention within sequences laid end to end, causal (decoders) or bidirectional (encoders), with a
 * recomputing backward. Work is split by (sequence, query head); each task copies its head's rows into contiguous
 * [length, D] buffers and walks blocks of {@link #BLOCK} query rows, so scores and their gradients exist for one
 * block at a time and the products run through {@link Gemm}. The forward keeps only the logsumexp of each (row,
 * head) softmax; the backward recomputes the probabilities from q, k and that logsumexp and applies
 * {@code dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP))} (rowsum(P ⊙ dP) equals FlashAttention's rowsum(dO ⊙ O) and is
 * exact where P is one-hot, so a row that sees one key gets a zero query gradient whatever the products' rounding).
 * Key and value gradients of the query heads that share a kv head are summed in a fixed order, so results do not
 * depend on the thread count.
 */
final class AttentionOp {
    /** Query rows per block. */
    private static final int BLOCK = 64;

    private AttentionOp() {}

    // q: [T, heads*D], k, v: [T, kvHeads*D] -> out: [T, heads*D], T = batch·seqLen, every sequence causal
    static Tensor apply(Tape tape, Tensor q, Tensor k, Tensor v, int batch, int seqLen, int heads, int kvHeads,
                        int headDim) {
        if (batch <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("attention: sizes must be positive: batch " + batch + ", seqLen " + seqLen);
        }
        int[] offsets = new int[batch + 1];
        for (int b = 0; b <= batch; b++) offsets[b] = Math.multiplyExact(b, seqLen);
        return apply(tape, q, k, v, offsets, heads, kvHeads, headDim, true);
    }

    // q: [T, heads*D], k, v: [T, kvHeads*D] -> out: [T, heads*D]; sequence b is rows offsets[b] .. offsets[b + 1)
    static Tensor apply(Tape tape, Tensor q, Tensor k, Tensor v, int[] offsets, int heads, int kvHeads, int headDim,
                        boolean causal) {
        Shape s = new Shape(offsets.clone(), heads, kvHeads, headDim, causal);
        s.check(q, k, v);
        float[] out = tape.floatsForOverwrite(s.tokens() * s.qStride());
        float[] lse = tape.floatsForOverwrite(s.tokens() * heads);
        Parallel.range(s.batch() * heads, 1, (start, end) -> {
            Workspace w = Workspace.take(s, false);
            for (int task = start; task < end; task++) forwardHead(s, task, q.data(), k.data(), v.data(), out, lse, w);
            w.give();
        });
        boolean needsGrad = tape.needsGrad(q, k, v);
        int[] shape = {s.tokens(), s.qStride()};
        Tensor result = needsGrad ? Tensor.param(out, shape).pooled(tape.pool()) : Tensor.of(out, shape);
        if (needsGrad) tape.record("attention", result, () -> backward(tape, s, q, k, v, result, lse), lse);
        return result;
    }

    private record Shape(int[] offsets, int heads, int kvHeads, int headDim, boolean causal) {
        int batch() {
            return offsets.length - 1;
        }

        int tokens() {
            return offsets[offsets.length - 1];
        }

        int first(int b) {
            return offsets[b];
        }

        int length(int b) {
            return offsets[b + 1] - offsets[b];
        }

        int maxLength() {
            int m = 0;
            for (int b = 0; b < batch(); b++) m = Math.max(m, length(b));
            return m;
        }

        /** Where the per-(sequence, head) rows of sequence b, head h start in a [T·heads]-row buffer. */
        int headRow(int b, int h) {
            return offsets[b] * heads + h * length(b);
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
            if (batch() <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("attention: sizes must be positive: " + batch() + " sequences, "
                        + heads + " heads, " + kvHeads + " kv heads, head dim " + headDim);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException(
                        "attention: heads " + heads + " not a multiple of kv heads " + kvHeads);
            }
            if (offsets[0] != 0) throw new IllegalArgumentException("attention: offsets[0] must be 0");
            for (int b = 0; b < batch(); b++) {
                if (length(b) <= 0) throw new IllegalArgumentException("attention: sequence " + b + " is empty");
            }
            long t = tokens();
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

    /**
     * One task's buffers: a head's rows as [length, D] and one block's scores [BLOCK, length]. Workspaces go back to a
     * small shared store after each call and are taken again by the next (one too small for a call is dropped), so a
     * training step allocates none once its shapes have been seen, and threads that run attention once in a while
     * (a server's request threads) hold none between calls.
     */
    private static final class Workspace {
        /** Free forward and backward workspaces, at most this many of each. */
        private static final int KEPT = 16;
        private static final BlockingQueue<Workspace> FORWARD = new ArrayBlockingQueue<>(KEPT);
        private static final BlockingQueue<Workspace> BACKWARD = new ArrayBlockingQueue<>(KEPT);

        final float[] q, k, v, scores, block;
        final float[] gradOut, dq, dScores;

        private Workspace(int rows, int blockScores, int blockRows, boolean backward) {
            q = new float[rows];
            k = new float[rows];
            v = new float[rows];
            scores = new float[blockScores];
            block = new float[blockRows];
            gradOut = backward ? new float[rows] : null;
            dq = backward ? new float[rows] : null;
            dScores = backward ? new float[blockScores] : null;
        }

        /** A workspace for a forward or a backward pass of shape s, to be given back with {@link #give}. */
        static Workspace take(Shape s, boolean backward) {
            int len = s.maxLength();
            int rows = len * s.headDim(), blockScores = Math.min(BLOCK, len) * len;
            int blockRows = Math.min(BLOCK, len) * s.headDim();
            Workspace w = (backward ? BACKWARD : FORWARD).poll();
            if (w == null || w.q.length < rows || w.scores.length < blockScores || w.block.length < blockRows) {
                w = new Workspace(rows, blockScores, blockRows, backward);
            }
            return w;
        }

        void give() {
            (dq != null ? BACKWARD : FORWARD).offer(this);
        }
    }

    // dst: [len, D] = columns [col, col + D) of rows first .. first + len of src (row stride `stride`)
    private static void gather(float[] src, int first, int len, int stride, int col, int d, float[] dst) {
        for (int t = 0; t < len; t++) System.arraycopy(src, (first + t) * stride + col, dst, t * d, d);
    }

    // keys that query rows t0 .. t0 + m see: a prefix when causal, the whole sequence otherwise
    private static int keys(Shape s, int t0, int m, int len) {
        return s.causal() ? t0 + m : len;
    }

    // keys that query row t0 + r sees
    private static int valid(Shape s, int t0, int r, int n) {
        return s.causal() ? t0 + r + 1 : n;
    }

    // one (sequence b, head h): row t attends to rows 0..t (causal) or to every row of its sequence
    private static void forwardHead(Shape s, int task, float[] q, float[] k, float[] v, float[] out, float[] lse,
                                    Workspace w) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim(), first = s.first(b), len = s.length(b);
        int kvCol = (h / s.group()) * d, lseRow = s.headRow(b, h);
        gather(q, first, len, s.qStride(), h * d, d, w.q);
        gather(k, first, len, s.kvStride(), kvCol, d, w.k);
        gather(v, first, len, s.kvStride(), kvCol, d, w.v);
        float scale = s.scale();
        for (int t0 = 0; t0 < len; t0 += BLOCK) {
            int m = Math.min(BLOCK, len - t0), n = keys(s, t0, m, len);
            // scores: [m, n] = q[t0 .. t0 + m)·k[0 .. n)ᵀ
            Gemm.xWt(w.q, t0 * d, w.k, 0, w.scores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n, valid = valid(s, t0, r, n);
                VecOps.scale(scale, w.scores, row, valid);
                int end = ExpMath.maskTail(w.scores, row, valid, n);
                float max = ExpMath.max(w.scores, row, end);
                float sum = ExpMath.expInPlace(w.scores, row, end, max, 1f);
                VecOps.scale(1f / sum, w.scores, row, valid);
                // [valid, end) is already 0: exp(-inf)
                Arrays.fill(w.scores, row + end, row + n, 0f);
                lse[lseRow + t0 + r] = max + (float) Math.log(sum);
            }
            // block: [m, D] = P·v[0 .. n)
            Gemm.gW(w.scores, 0, w.v, 0, w.block, 0, m, n, d, false);
            for (int r = 0; r < m; r++) {
                System.arraycopy(w.block, r * d, out, (first + t0 + r) * s.qStride() + h * d, d);
            }
        }
    }

    private static void backward(Tape tape, Shape s, Tensor q, Tensor k, Tensor v, Tensor out, float[] lse) {
        int d = s.headDim();
        // per-query-head key and value gradients: for sequence b, head h, [length(b), D] at headRow(b, h)·D
        long size = (long) s.tokens() * s.heads() * d;
        float[] dkHeads = k.requiresGrad() ? tape.floats(Math.toIntExact(size)) : null;
        float[] dvHeads = v.requiresGrad() ? tape.floats(Math.toIntExact(size)) : null;
        // each gradient's first contribution is written, later ones added (asked for in the order they are made)
        Tensor.GradWrite gq = q.gradForWrite();
        Parallel.range(s.batch() * s.heads(), 1, (start, end) -> {
            Workspace w = Workspace.take(s, true);
            for (int task = start; task < end; task++) {
                backwardHead(s, task, q, gq, k, v, out, lse, dkHeads, dvHeads, w);
            }
            w.give();
        });
        Tensor.GradWrite gk = dkHeads == null ? null : k.gradForWrite();
        Tensor.GradWrite gv = dvHeads == null ? null : v.gradForWrite();
        // the first query head of a group makes the key and value heads' contribution; the group's others add to it
        Tensor.GradWrite gkAdd = gk == null ? null : new Tensor.GradWrite(gk.values(), true);
        Tensor.GradWrite gvAdd = gv == null ? null : new Tensor.GradWrite(gv.values(), true);
        Parallel.range(s.batch() * s.kvHeads(), 1, (start, end) -> {
            for (int task = start; task < end; task++) {
                int b = task / s.kvHeads(), kvh = task % s.kvHeads(), len = s.length(b);
                for (int g = 0; g < s.group(); g++) {
                    int from = s.headRow(b, kvh * s.group() + g) * d;
                    for (int j = 0; j < len; j++) {
                        int to = (s.first(b) + j) * s.kvStride() + kvh * d;
                        if (gk != null) (g == 0 ? gk : gkAdd).put(dkHeads, from + j * d, to, d);
                        if (gv != null) (g == 0 ? gv : gvAdd).put(dvHeads, from + j * d, to, d);
                    }
                }
            }
        });
        tape.give(dkHeads);
        tape.give(dvHeads);
    }

    private static void backwardHead(Shape s, int task, Tensor q, Tensor.GradWrite gq, Tensor k, Tensor v,
                                     Tensor out, float[] lse, float[] dkHeads, float[] dvHeads, Workspace w) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim(), first = s.first(b), len = s.length(b);
        int kvCol = (h / s.group()) * d, lseRow = s.headRow(b, h), headOff = lseRow * d;
        boolean scoresNeeded = q.requiresGrad() || dkHeads != null;
        gather(q.data(), first, len, s.qStride(), h * d, d, w.q);
        gather(k.data(), first, len, s.kvStride(), kvCol, d, w.k);
        gather(out.grad(), first, len, s.qStride(), h * d, d, w.gradOut);
        if (scoresNeeded) gather(v.data(), first, len, s.kvStride(), kvCol, d, w.v);
        float scale = s.scale();
        for (int t0 = 0; t0 < len; t0 += BLOCK) {
            int m = Math.min(BLOCK, len - t0), n = keys(s, t0, m, len);
            // P: [m, n], recomputed from the scores and each row's logsumexp
            Gemm.xWt(w.q, t0 * d, w.k, 0, w.scores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n, valid = valid(s, t0, r, n);
                VecOps.scale(scale, w.scores, row, valid);
                int end = ExpMath.maskTail(w.scores, row, valid, n);
                ExpMath.expInPlace(w.scores, row, end, lse[lseRow + t0 + r], 1f);
                Arrays.fill(w.scores, row + end, row + n, 0f);
            }
            // dv[0 .. n) += Pᵀ·dO
            if (dvHeads != null) Gemm.gtX(w.scores, 0, w.gradOut, t0 * d, dvHeads, headOff, m, n, d, true);
            if (!scoresNeeded) continue;
            // dS: [m, n] = P ⊙ (dP − rowsum(P ⊙ dP)) · scale with dP = dO·vᵀ
            Gemm.xWt(w.gradOut, t0 * d, w.v, 0, w.dScores, 0, m, d, n, false);
            for (int r = 0; r < m; r++) {
                int row = r * n;
                float rowDot = VecOps.dot(w.scores, row, w.dScores, row, n);
                for (int j = 0; j < n; j++) {
                    w.dScores[row + j] = w.scores[row + j] * (w.dScores[row + j] - rowDot) * scale;
                }
            }
            // dq[t0 .. t0 + m) = dS·k[0 .. n), dk[0 .. n) += dSᵀ·q[t0 .. t0 + m)
            if (q.requiresGrad()) Gemm.gW(w.dScores, 0, w.k, 0, w.dq, t0 * d, m, n, d, false);
            if (dkHeads != null) Gemm.gtX(w.dScores, 0, w.q, t0 * d, dkHeads, headOff, m, n, d, true);
        }
        if (gq != null) {
            for (int t = 0; t < len; t++) gq.put(w.dq, t * d, (first + t) * s.qStride() + h * d, d);
        }
    }
}
