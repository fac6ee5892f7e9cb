package dev.dora4j.model;

import dev.dora4j.autograd.Tape;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.tensor.Tensor;
import java.util.List;

/**
 * Attention of new rows against their sequences' KV caches: the rows of one decode step belong to several
 * sequences, {@code rowCounts[s]} consecutive rows to {@code caches.get(s)}, at positions continuing that cache.
 * Each layer appends its keys and values to the caches; row i of a sequence attends to every cached position up to
 * its own (causal), with grouped-query heads. Inference only (nothing is recorded).
 */
final class CachedAttention implements SelfAttention {
    private final List<KvCache> caches;
    private final int[] rowCounts;
    private final int[] rowSequence, rowPosition;
    private final int heads, kvHeads, headDim;

    CachedAttention(LlamaConfig c, List<KvCache> caches, int[] rowCounts) {
        if (caches.size() != rowCounts.length) {
            throw new IllegalArgumentException(caches.size() + " caches for " + rowCounts.length + " row counts");
        }
        this.caches = caches;
        this.rowCounts = rowCounts.clone();
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        this.headDim = c.headDim();
        int rows = 0;
        for (int s = 0; s < rowCounts.length; s++) {
            KvCache cache = caches.get(s);
            if (rowCounts[s] <= 0) throw new IllegalArgumentException("sequence " + s + " has no rows in this step");
            if (cache.length() + rowCounts[s] > cache.capacity()) {
                throw new IllegalArgumentException("sequence " + s + ": " + rowCounts[s] + " more positions do not fit its KV cache of "
                        + cache.capacity() + " (" + cache.length() + " used)");
            }
            if (cache.kvDim() != c.kvDim()) throw new IllegalArgumentException("KV cache of width " + cache.kvDim() + " for a model of " + c.kvDim());
            rows += rowCounts[s];
        }
        rowSequence = new int[rows];
        rowPosition = new int[rows];
        for (int s = 0, r = 0; s < rowCounts.length; s++) {
            for (int i = 0; i < rowCounts[s]; i++, r++) {
                rowSequence[r] = s;
                rowPosition[r] = caches.get(s).length() + i;
            }
        }
    }

    /** The position of every row of the step, for the rotary embedding. */
    int[] positions() {
        return rowPosition.clone();
    }

    int rows() {
        return rowSequence.length;
    }

    /** Ends the step: the rows written by every layer become part of their sequences. */
    void commit() {
        for (int s = 0; s < rowCounts.length; s++) caches.get(s).advance(rowCounts[s]);
    }

    @Override
    public Tensor attend(Tape tape, int layer, Tensor q, Tensor k, Tensor v) {
        int rows = rows(), kvDim = kvHeads * headDim, qDim = heads * headDim;
        if (q.rows() != rows || k.rows() != rows) throw new IllegalArgumentException("attention over " + q.rows() + " rows, step has " + rows);
        float[] kd = k.data(), vd = v.data(), qd = q.data();
        for (int r = 0; r < rows; r++) {
            KvCache cache = caches.get(rowSequence[r]);
            System.arraycopy(kd, r * kvDim, cache.keys[layer], rowPosition[r] * kvDim, kvDim);
            System.arraycopy(vd, r * kvDim, cache.values[layer], rowPosition[r] * kvDim, kvDim);
        }
        float[] out = new float[rows * qDim];
        int grain = Math.max(1, 4096 / Math.max(1, headDim * (1 + rowPosition[rows - 1])));
        Parallel.range(rows * heads, grain, (start, end) -> {
            float[] scores = null;
            for (int task = start; task < end; task++) {
                int r = task / heads, h = task % heads, n = rowPosition[r] + 1;
                if (scores == null || scores.length < n) scores = new float[Math.max(n, 64)];
                KvCache cache = caches.get(rowSequence[r]);
                attendHead(qd, r * qDim + h * headDim, cache.keys[layer], cache.values[layer], (h / (heads / kvHeads)) * headDim,
                        kvDim, n, scores, out, r * qDim + h * headDim);
            }
        });
        return Tensor.of(out, rows, qDim);
    }

    // q[qOff, +D] against cached k, v: [n, kvDim] at column kvOff -> out[outOff, +D]
    private void attendHead(float[] q, int qOff, float[] k, float[] v, int kvOff, int kvDim, int n, float[] scores,
            float[] out, int outOff) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float max = Float.NEGATIVE_INFINITY;
        for (int t = 0; t < n; t++) {
            scores[t] = VecOps.dot(q, qOff, k, t * kvDim + kvOff, headDim) * scale;
            max = Math.max(max, scores[t]);
        }
        float sum = 0;
        for (int t = 0; t < n; t++) sum += scores[t] = (float) Math.exp(scores[t] - max);
        float inv = 1f / sum;
        for (int t = 0; t < n; t++) VecOps.axpy(scores[t] * inv, v, t * kvDim + kvOff, out, outOff, headDim);
    }
}
