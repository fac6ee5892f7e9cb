package dev.dora4j.kernel;

import java.util.Arrays;

/**
 * Packs panels of a {@link WeightMatrix} for the blocked product, widening the values as they are copied, so that a
 * 16-bit or quantised weight is never widened whole: {@code [depth, width]} panels, each row zero-padded.
 */
final class WeightPanels {
    /** Depth of W's columns widened per pass of the transposing copy. */
    private static final int TRANSPOSE_DEPTH = 256;

    private static final ThreadLocal<float[][]> ROW = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    private WeightPanels() {}

    // x·Wᵀ's B(p, j) = W[j, p]: dst[p·width + jj] = W[j0 + jj, p] for p < depth (= W.cols), jj < cols, rest 0
    static void transposed(WeightMatrix w, int depth, int j0, int cols, int width, float[] dst, int dOff) {
        float[] row = rowBuffer(Math.min(depth, TRANSPOSE_DEPTH));
        for (int p0 = 0; p0 < depth; p0 += TRANSPOSE_DEPTH) {
            int len = Math.min(TRANSPOSE_DEPTH, depth - p0);
            for (int jj = 0; jj < cols; jj++) {
                w.dequantizeRow(j0 + jj, p0, len, row, 0);
                int d = dOff + p0 * width + jj;
                for (int p = 0; p < len; p++) dst[d + p * width] = row[p];
            }
            if (cols < width) {
                for (int p = p0; p < p0 + len; p++) Arrays.fill(dst, dOff + p * width + cols, dOff + (p + 1) * width, 0f);
            }
        }
    }

    // g·W's B(p, j) = W[p, j]: dst[p·width + jj] = ps[p]·W[p, j0 + jj] (ps may be null) for p < depth (= W.rows)
    static void rows(WeightMatrix w, float[] ps, int depth, int j0, int cols, int width, float[] dst, int dOff) {
        for (int p = 0; p < depth; p++) {
            int d = dOff + p * width;
            w.dequantizeRow(p, j0, cols, dst, d);
            if (ps != null) {
                float f = ps[p];
                for (int jj = 0; jj < cols; jj++) dst[d + jj] *= f;
            }
            if (cols < width) Arrays.fill(dst, d + cols, d + width, 0f);
        }
    }

    private static float[] rowBuffer(int size) {
        float[][] holder = ROW.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }
}
