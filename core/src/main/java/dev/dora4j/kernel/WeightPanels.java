package dev.dora4j.kernel;

import java.util.Arrays;

/**
 * Packs panels of a {@link WeightMatrix} for the blocked product, widening the values as they are copied, so that a
 * 16-bit or quantised weight is never widened whole: {@code [depth, width]} panels, each row zero-padded.
 */
final class WeightPanels {
    /** Depth of W's columns widened per pass of the transposing copy. */
    private static final int TRANSPOSE_DEPTH = 256;
    /** Rows of W widened before they are transposed together. */
    private static final int ROWS = 16;

    private WeightPanels() {}

    // x·Wᵀ's B(p, j) = W[j, p], rows [from, to) of it (to ≤ W.cols): dst[(p - from)·width + jj] = W[j0 + jj, p]
    // for jj < cols, the rest of each row 0
    static void transposed(WeightMatrix w, int from, int to, int j0, int cols, int width, float[] dst, int dOff) {
        int span = Math.min(to - from, TRANSPOSE_DEPTH);
        float[] rows = WeightRows.scratch(ROWS * span);
        for (int p0 = from; p0 < to; p0 += TRANSPOSE_DEPTH) {
            int len = Math.min(TRANSPOSE_DEPTH, to - p0), base = dOff + (p0 - from) * width;
            // ROWS rows of W widened side by side (row i at i·span), then transposed into the panel
            for (int jj = 0; jj < cols; jj += ROWS) {
                int n = Math.min(ROWS, cols - jj);
                for (int i = 0; i < n; i++) w.dequantizeRow(j0 + jj + i, p0, len, rows, i * span);
                GemmPack.transposeCopy(rows, 0, span, len, n, dst, base + jj, width, Transpose16.NATIVE);
            }
            if (cols < width) {
                for (int p = 0; p < len; p++) Arrays.fill(dst, base + p * width + cols, base + (p + 1) * width, 0f);
            }
        }
    }

    // g·W's B(p, j) = W[p, j], rows [from, to) of it (to ≤ W.rows): dst[(p - from)·width + jj] =
    // ps[p]·W[p, j0 + jj] (ps may be null)
    static void rows(WeightMatrix w, float[] ps, int from, int to, int j0, int cols, int width, float[] dst, int dOff) {
        for (int p = from; p < to; p++) {
            int d = dOff + (p - from) * width;
            w.dequantizeRow(p, j0, cols, ps == null ? 1f : ps[p], dst, d);
            if (cols < width) Arrays.fill(dst, d + cols, d + width, 0f);
        }
    }
}
