package dev.dora4j.autograd;

import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;

/**
 * Causal grouped-query attention with a recomputing backward. The forward keeps only the logsumexp of each
 * (row, head) softmax; the backward recomputes the scores from q and k and applies
 * {@code dS = P ⊙ (dO·Vᵀ − rowsum(dO ⊙ O))}. Work is split by (sequence, query head); key and value
 * gradients of the query heads that share a kv head are summed in a fixed order, so results do not depend on
 * the number of threads.
 */
final class AttentionOp {
    private AttentionOp() {}

    // q: [T, heads*D], k, v: [T, kvHeads*D] -> out: [T, heads*D], T = batch·seqLen
    static Tensor apply(Tape tape, Tensor q, Tensor k, Tensor v, int batch, int seqLen, int heads, int kvHeads,
                        int headDim) {
        Shape s = new Shape(batch, seqLen, heads, kvHeads, headDim);
        s.check(q, k, v);
        float[] out = new float[s.tokens() * s.qStride()];
        float[] lse = new float[batch * heads * seqLen];
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float[] qd = q.data(), kd = k.data(), vd = v.data();
        Parallel.range(batch * heads, 1, (start, end) -> {
            float[] p = new float[seqLen];
            for (int task = start; task < end; task++) forwardHead(s, task, qd, kd, vd, out, lse, p, scale);
        });
        boolean needsGrad = tape.needsGrad(q, k, v);
        Tensor result = needsGrad ? Tensor.param(out, s.tokens(), s.qStride()) : Tensor.of(out, s.tokens(), s.qStride());
        if (needsGrad) tape.record(() -> backward(s, q, k, v, result, lse, scale));
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

        void check(Tensor q, Tensor k, Tensor v) {
            if (batch <= 0 || seqLen <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("attention: sizes must be positive: " + this);
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException("attention: heads " + heads + " not a multiple of kv heads " + kvHeads);
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

    // one (sequence b, head h): row t attends to rows 0..t of its sequence; p: [seqLen] scratch
    private static void forwardHead(Shape s, int task, float[] q, float[] k, float[] v, float[] out, float[] lse,
                                    float[] p, float scale) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim();
        int kvCol = (h / s.group()) * d, firstRow = b * s.seqLen();
        for (int t = 0; t < s.seqLen(); t++) {
            int qOff = (firstRow + t) * s.qStride() + h * d;
            for (int j = 0; j <= t; j++) p[j] = VecOps.dot(q, qOff, k, (firstRow + j) * s.kvStride() + kvCol, d) * scale;
            float max = ExpMath.max(p, 0, t + 1);
            float sum = ExpMath.expInPlace(p, 0, t + 1, max, 1f);
            float inv = 1f / sum;
            for (int j = 0; j <= t; j++) {
                VecOps.axpy(p[j] * inv, v, (firstRow + j) * s.kvStride() + kvCol, out, qOff, d);
            }
            lse[task * s.seqLen() + t] = max + (float) Math.log(sum);
        }
    }

    private static void backward(Shape s, Tensor q, Tensor k, Tensor v, Tensor out, float[] lse, float scale) {
        int d = s.headDim(), seqLen = s.seqLen();
        boolean direct = s.group() == 1;
        // per-query-head key/value gradients when heads share a kv head: [batch·heads, seqLen, D]
        float[] dkHeads = k.requiresGrad() && !direct ? new float[s.batch() * s.heads() * seqLen * d] : null;
        float[] dvHeads = v.requiresGrad() && !direct ? new float[s.batch() * s.heads() * seqLen * d] : null;
        Parallel.range(s.batch() * s.heads(), 1, (start, end) -> {
            float[] p = new float[seqLen];
            for (int task = start; task < end; task++) {
                int b = task / s.heads(), h = task % s.heads();
                int kvCol = (h / s.group()) * d, firstRow = b * seqLen;
                Target dk = !k.requiresGrad() ? null : direct
                        ? new Target(k.grad(), firstRow * s.kvStride() + kvCol, s.kvStride())
                        : new Target(dkHeads, task * seqLen * d, d);
                Target dv = !v.requiresGrad() ? null : direct
                        ? new Target(v.grad(), firstRow * s.kvStride() + kvCol, s.kvStride())
                        : new Target(dvHeads, task * seqLen * d, d);
                backwardHead(s, task, q, k, v, out, lse, dk, dv, p, scale);
            }
        });
        if (direct) return;
        Parallel.range(s.batch() * s.kvHeads(), 1, (start, end) -> {
            for (int task = start; task < end; task++) {
                int b = task / s.kvHeads(), kvh = task % s.kvHeads();
                for (int g = 0; g < s.group(); g++) {
                    int from = (b * s.heads() + kvh * s.group() + g) * seqLen * d;
                    for (int j = 0; j < seqLen; j++) {
                        int to = (b * seqLen + j) * s.kvStride() + kvh * d;
                        if (dkHeads != null) VecOps.axpy(1f, dkHeads, from + j * d, k.grad(), to, d);
                        if (dvHeads != null) VecOps.axpy(1f, dvHeads, from + j * d, v.grad(), to, d);
                    }
                }
            }
        });
    }

    /** Where one head's key or value gradient rows go: row j at {@code offset + j·stride}. */
    private record Target(float[] data, int offset, int stride) {}

    private static void backwardHead(Shape s, int task, Tensor q, Tensor k, Tensor v, Tensor out, float[] lse,
                                     Target dk, Target dv, float[] p, float scale) {
        int b = task / s.heads(), h = task % s.heads(), d = s.headDim();
        int kvCol = (h / s.group()) * d, firstRow = b * s.seqLen();
        float[] qd = q.data(), kd = k.data(), vd = v.data(), gOut = out.grad(), o = out.data(), dq = q.grad();
        boolean scoresNeeded = dq != null || dk != null;
        for (int t = 0; t < s.seqLen(); t++) {
            int qOff = (firstRow + t) * s.qStride() + h * d;
            for (int j = 0; j <= t; j++) p[j] = VecOps.dot(qd, qOff, kd, (firstRow + j) * s.kvStride() + kvCol, d) * scale;
            ExpMath.expInPlace(p, 0, t + 1, lse[task * s.seqLen() + t], 1f);
            float rowDot = scoresNeeded ? VecOps.dot(gOut, qOff, o, qOff, d) : 0f;
            for (int j = 0; j <= t; j++) {
                int kvOff = (firstRow + j) * s.kvStride() + kvCol;
                if (dv != null) VecOps.axpy(p[j], gOut, qOff, dv.data(), dv.offset() + j * dv.stride(), d);
                if (!scoresNeeded) continue;
                float dScore = p[j] * (VecOps.dot(gOut, qOff, vd, kvOff, d) - rowDot) * scale;
                if (dq != null) VecOps.axpy(dScore, kd, kvOff, dq, qOff, d);
                if (dk != null) VecOps.axpy(dScore, qd, qOff, dk.data(), dk.offset() + j * dk.stride(), d);
            }
        }
    }
}
