package dev.dora4j.kernel;

/**
 * Plain-loop twins of {@link Gemm}, accumulating in double: the oracle the vectorised kernels are tested against.
 * Same layouts and arguments as {@link Gemm}.
 */
public final class GemmScalar {
    private GemmScalar() {}

    /** {@code y = x·Wᵀ}. x: [m, k], w: [n, k] -> y: [m, n]. */
    public static void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n,
                           boolean acc) {
        xWt(x, xOff, w, wOff, y, yOff, m, k, n, acc, null, null);
    }

    /** {@code y = (acc ? y + x·Wᵀ : x·Wᵀ) ⊙ colScale + colBias} per column; colScale, colBias: [n] or null. */
    public static void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n,
                           boolean acc, float[] colScale, float[] colBias) {
        GemmChecks.xWt(x, xOff, w, wOff, y, yOff, m, k, n);
        GemmChecks.vector("colScale", colScale, n);
        GemmChecks.vector("colBias", colBias, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) x[xOff + i * k + p] * w[wOff + j * k + p];
                int yi = yOff + i * n + j;
                if (acc) s += y[yi];
                if (colScale != null) s *= colScale[j];
                if (colBias != null) s += colBias[j];
                y[yi] = (float) s;
            }
        }
    }

    /** {@code dx = g·W}. g: [m, n], w: [n, k] -> dx: [m, k]. */
    public static void gW(float[] g, int gOff, float[] w, int wOff, float[] dx, int dxOff, int m, int n, int k,
                          boolean acc) {
        gW(g, gOff, w, wOff, null, dx, dxOff, m, n, k, acc);
    }

    /** {@code dx = g·diag(rowScale)·W}. g: [m, n], w: [n, k], rowScale: [n] or null -> dx: [m, k]. */
    public static void gW(float[] g, int gOff, float[] w, int wOff, float[] rowScale, float[] dx, int dxOff, int m,
                          int n, int k, boolean acc) {
        GemmChecks.gW(g, gOff, w, wOff, dx, dxOff, m, n, k);
        GemmChecks.vector("rowScale", rowScale, n);
        for (int i = 0; i < m; i++) {
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int p = 0; p < n; p++) {
                    float wp = rowScale == null ? w[wOff + p * k + c] : rowScale[p] * w[wOff + p * k + c];
                    s += (double) g[gOff + i * n + p] * wp;
                }
                int di = dxOff + i * k + c;
                dx[di] = acc ? (float) (dx[di] + s) : (float) s;
            }
        }
    }

    /** {@code dW = gᵀ·x}. g: [m, n], x: [m, k] -> dw: [n, k]. */
    public static void gtX(float[] g, int gOff, float[] x, int xOff, float[] dw, int dwOff, int m, int n, int k,
                           boolean acc) {
        GemmChecks.gtX(g, gOff, x, xOff, dw, dwOff, m, n, k);
        for (int j = 0; j < n; j++) {
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int p = 0; p < m; p++) s += (double) g[gOff + p * n + j] * x[xOff + p * k + c];
                int di = dwOff + j * k + c;
                dw[di] = acc ? (float) (dw[di] + s) : (float) s;
            }
        }
    }

    /** The twin of {@link Gemm#xWt(float[], int, WeightMatrix, float[], int, int, boolean, float[], float[])}. */
    public static void xWt(float[] x, int xOff, WeightMatrix w, float[] y, int yOff, int m, boolean acc,
                           float[] colScale, float[] colBias) {
        xWt(x, xOff, w.toFloatArray(), 0, y, yOff, m, w.cols(), w.rows(), acc, colScale, colBias);
    }

    /** The twin of {@link Gemm#gW(float[], int, WeightMatrix, float[], float[], int, int, boolean)}. */
    public static void gW(float[] g, int gOff, WeightMatrix w, float[] rowScale, float[] dx, int dxOff, int m,
                          boolean acc) {
        gW(g, gOff, w.toFloatArray(), 0, rowScale, dx, dxOff, m, w.rows(), w.cols(), acc);
    }
}
