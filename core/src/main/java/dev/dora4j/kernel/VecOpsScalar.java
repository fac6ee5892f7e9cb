package dev.dora4j.kernel;

import java.util.Objects;

/** Plain-loop twins of {@link VecOps}, accumulating in double: the test oracle. Same arguments as {@link VecOps}. */
public final class VecOpsScalar {
    private VecOpsScalar() {}

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) a[aOff + i] * b[bOff + i];
        return (float) s;
    }

    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        for (int i = 0; i < n; i++) y[yOff + i] = (float) (y[yOff + i] + (double) alpha * x[xOff + i]);
    }

    public static void mulAdd(float[] a, int aOff, float[] b, int bOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        for (int i = 0; i < n; i++) y[yOff + i] = y[yOff + i] + a[aOff + i] * b[bOff + i];
    }

    public static void scale(float alpha, float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        for (int i = 0; i < n; i++) x[off + i] = alpha * x[off + i];
    }

    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        Objects.checkFromIndexSize(aOff, n, a.length);
        Objects.checkFromIndexSize(bOff, n, b.length);
        Objects.checkFromIndexSize(outOff, n, out.length);
        for (int i = 0; i < n; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
    }

    public static float sumSquares(float[] x, int off, int n) {
        return dot(x, off, x, off, n);
    }

    // w: [rows, cols] -> out: [rows]
    public static void rowSumSquares(float[] w, int off, int rows, int cols, float[] out) {
        Objects.checkFromIndexSize(off, (long) rows * cols, w.length);
        Objects.checkFromIndexSize(0, rows, out.length);
        for (int r = 0; r < rows; r++) out[r] = sumSquares(w, off + r * cols, cols);
    }

    // a, b: [rows, cols] -> y[c] += Σ_r a[r, c]·b[r, c], in row order
    public static void columnMulAdd(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] y) {
        Objects.checkFromIndexSize(aOff, (long) rows * cols, a.length);
        Objects.checkFromIndexSize(bOff, (long) rows * cols, b.length);
        Objects.checkFromIndexSize(0, cols, y.length);
        for (int r = 0; r < rows; r++) mulAdd(a, aOff + r * cols, b, bOff + r * cols, y, 0, cols);
    }

    // a, b: [rows, cols] -> out: [rows]
    public static void rowDots(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] out) {
        Objects.checkFromIndexSize(aOff, (long) rows * cols, a.length);
        Objects.checkFromIndexSize(bOff, (long) rows * cols, b.length);
        Objects.checkFromIndexSize(0, rows, out.length);
        for (int r = 0; r < rows; r++) out[r] = dot(a, aOff + r * cols, b, bOff + r * cols, cols);
    }

    // x: [rows, cols], in place
    public static void softmaxRows(float[] x, int off, int rows, int cols) {
        Objects.checkFromIndexSize(off, (long) rows * cols, x.length);
        for (int r = 0; r < rows; r++) {
            int o = off + r * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) max = Math.max(max, x[o + c]);
            double sum = 0;
            double[] e = new double[cols];
            for (int c = 0; c < cols; c++) {
                e[c] = Math.exp((double) x[o + c] - max);
                sum += e[c];
            }
            for (int c = 0; c < cols; c++) x[o + c] = (float) (e[c] / sum);
        }
    }

    /** GELU in double: {@link Gelu#exact}. */
    public static void gelu(float[] x, int xOff, float[] y, int yOff, int n) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(yOff, n, y.length);
        for (int i = 0; i < n; i++) y[yOff + i] = (float) Gelu.exact(x[xOff + i]);
    }

    /** {@code gx += g·(Φ(x) + x·φ(x))} in double. */
    public static void geluBackward(float[] x, int xOff, float[] g, int gOff, float[] gx, int gxOff, int n) {
        for (int i = 0; i < n; i++) gx[gxOff + i] = (float) (gx[gxOff + i] + g[gOff + i] * Gelu.exactDerivative(x[xOff + i]));
    }
}
