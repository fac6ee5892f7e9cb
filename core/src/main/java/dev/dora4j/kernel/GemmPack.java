package dev.dora4j.kernel;

import java.util.Arrays;

/**
 * Packs a block of the right-hand matrix B of {@code C = A·B} into panels that the micro-kernels stream through:
 * a panel of width {@code width} holds rows p = 0..depth-1 of columns [j0, j0 + cols) contiguously, each row
 * zero-padded to {@code width}.
 */
final class GemmPack {
    /** Rows of B packed per pass of the transposing copy, so the written lines stay in L1. */
    private static final int TRANSPOSE_ROWS = 64;

    private GemmPack() {}

    // B(p, j) = b[bOff + p·bRs + j·bCs], p in [0, depth), j in [j0, j0 + cols) -> dst: [depth, width] at dOff
    static void panel(float[] b, int bOff, int bRs, int bCs, int depth, int j0, int cols, int width,
                      float[] dst, int dOff) {
        if (bCs == 1) {
            copyRows(b, bOff + j0, bRs, depth, cols, width, dst, dOff);
        } else if (bRs == 1) {
            transpose(b, bOff + j0 * bCs, bCs, depth, cols, width, dst, dOff, Transpose16.NATIVE);
        } else {
            for (int p = 0; p < depth; p++) {
                int d = dOff + p * width;
                for (int jj = 0; jj < cols; jj++) dst[d + jj] = b[bOff + p * bRs + (j0 + jj) * bCs];
                if (cols < width) Arrays.fill(dst, d + cols, d + width, 0f);
            }
        }
    }

    // src rows are contiguous: row p at src + p·ld
    private static void copyRows(float[] b, int src, int ld, int depth, int cols, int width, float[] dst, int dOff) {
        for (int p = 0; p < depth; p++) {
            int d = dOff + p * width;
            System.arraycopy(b, src + p * ld, dst, d, cols);
            if (cols < width) Arrays.fill(dst, d + cols, d + width, 0f);
        }
    }

    // src columns are contiguous: column jj (a row of the stored matrix) at src + jj·ld; 16 × 16 blocks in registers
    // (Transpose16) or element by element, the same values either way
    static void transpose(float[] b, int src, int ld, int depth, int cols, int width, float[] dst, int dOff,
                          boolean registers) {
        transposeCopy(b, src, ld, depth, cols, dst, dOff, width, registers);
        if (cols < width) {
            for (int p = 0; p < depth; p++) Arrays.fill(dst, dOff + p * width + cols, dOff + (p + 1) * width, 0f);
        }
    }

    /** dst[dOff + p·dld + jj] = b[src + jj·ld + p] for jj < cols, p < depth (no padding). */
    static void transposeCopy(float[] b, int src, int ld, int depth, int cols, float[] dst, int dOff, int dld,
                              boolean registers) {
        if (registers) {
            Transpose16.copy(b, src, ld, depth, cols, dst, dOff, dld);
            return;
        }
        for (int p0 = 0; p0 < depth; p0 += TRANSPOSE_ROWS) {
            int p1 = Math.min(depth, p0 + TRANSPOSE_ROWS);
            for (int jj = 0; jj < cols; jj++) {
                int s = src + jj * ld;
                for (int p = p0; p < p1; p++) dst[dOff + p * dld + jj] = b[s + p];
            }
        }
    }
}
