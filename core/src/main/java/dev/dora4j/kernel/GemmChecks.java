package dev.dora4j.kernel;

/** Argument checks shared by the matrix-product kernels: clear messages instead of failures deep in a loop. */
final class GemmChecks {
    private GemmChecks() {}

    static void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n) {
        dims(m, k, n);
        region("x", x, xOff, m, k);
        region("w", w, wOff, n, k);
        region("y", y, yOff, m, n);
    }

    static void gW(float[] g, int gOff, float[] w, int wOff, float[] dx, int dxOff, int m, int n, int k) {
        dims(m, k, n);
        region("g", g, gOff, m, n);
        region("w", w, wOff, n, k);
        region("dx", dx, dxOff, m, k);
    }

    static void gtX(float[] g, int gOff, float[] x, int xOff, float[] dw, int dwOff, int m, int n, int k) {
        dims(m, k, n);
        region("g", g, gOff, m, n);
        region("x", x, xOff, m, k);
        region("dw", dw, dwOff, n, k);
    }

    static void xWt(float[] x, int xOff, WeightMatrix w, float[] y, int yOff, int m) {
        dims(m, w.cols(), w.rows());
        region("x", x, xOff, m, w.cols());
        region("y", y, yOff, m, w.rows());
    }

    static void gW(float[] g, int gOff, WeightMatrix w, float[] dx, int dxOff, int m) {
        dims(m, w.cols(), w.rows());
        region("g", g, gOff, m, w.rows());
        region("dx", dx, dxOff, m, w.cols());
    }

    /** A per-row or per-column vector of the product: null, or at least {@code n} values. */
    static void vector(String name, float[] v, int n) {
        if (v != null && v.length < n) {
            throw new IndexOutOfBoundsException(name + ": " + n + " values needed, the array has " + v.length);
        }
    }

    private static void dims(int m, int k, int n) {
        if (m < 0 || k < 0 || n < 0) {
            throw new IllegalArgumentException("negative dimension: m=" + m + ", k=" + k + ", n=" + n);
        }
    }

    private static void region(String name, float[] a, int off, int rows, int cols) {
        long size = (long) rows * cols;
        if (off < 0 || off + size > a.length) {
            throw new IndexOutOfBoundsException(name + ": [" + rows + ", " + cols + "] at offset " + off
                    + " does not fit in an array of " + a.length);
        }
    }
}
