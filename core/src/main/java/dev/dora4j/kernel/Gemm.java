package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised, multi-threaded matrix products in the three layouts training needs, at the preferred vector width.
 * All arrays are row-major and contiguous, offsets count elements, and {@code acc} adds the product into the output
 * ({@code +=}) instead of overwriting it. Work is spread over {@link Parallel}'s pool.
 */
public final class Gemm {
    private static final GemmKernel PREFERRED = using(FloatVector.SPECIES_PREFERRED);

    private Gemm() {}

    /** The kernels compiled for {@code species} (made once per species, then shared). */
    public static GemmKernel using(VectorSpecies<Float> species) {
        return Specialize.copy(GemmSimd.class, GemmKernel.class, species);
    }

    /** The kernels the static methods use. */
    public static GemmKernel preferred() {
        return PREFERRED;
    }

    /** {@code y = x·Wᵀ}. x: [m, k], w: [n, k] -> y: [m, n]. */
    public static void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n,
                           boolean acc) {
        PREFERRED.xWt(x, xOff, w, wOff, y, yOff, m, k, n, acc);
    }

    /**
     * {@code y = (acc ? y + x·Wᵀ : x·Wᵀ) ⊙ colScale + colBias} per column, in the pass that stores the product.
     * x: [m, k], w: [n, k], colScale, colBias: [n] or null -> y: [m, n].
     */
    public static void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n,
                           boolean acc, float[] colScale, float[] colBias) {
        PREFERRED.xWt(x, xOff, w, wOff, y, yOff, m, k, n, acc, colScale, colBias);
    }

    /** {@code dx = g·W}. g: [m, n], w: [n, k] -> dx: [m, k]. */
    public static void gW(float[] g, int gOff, float[] w, int wOff, float[] dx, int dxOff, int m, int n, int k,
                          boolean acc) {
        PREFERRED.gW(g, gOff, w, wOff, dx, dxOff, m, n, k, acc);
    }

    /** {@code dx = g·diag(rowScale)·W}, row p of W scaled by rowScale[p] as it is packed. rowScale: [n] or null. */
    public static void gW(float[] g, int gOff, float[] w, int wOff, float[] rowScale, float[] dx, int dxOff, int m,
                          int n, int k, boolean acc) {
        PREFERRED.gW(g, gOff, w, wOff, rowScale, dx, dxOff, m, n, k, acc);
    }

    /** {@code dW = gᵀ·x}. g: [m, n], x: [m, k] -> dw: [n, k]. */
    public static void gtX(float[] g, int gOff, float[] x, int xOff, float[] dw, int dwOff, int m, int n, int k,
                           boolean acc) {
        PREFERRED.gtX(g, gOff, x, xOff, dw, dwOff, m, n, k, acc);
    }

    /**
     * {@code y = (acc ? y + x·Wᵀ : x·Wᵀ) ⊙ colScale + colBias} for a weight in any storage.
     * x: [m, in], w: [out, in], colScale, colBias: [out] or null -> y: [m, out].
     */
    public static void xWt(float[] x, int xOff, WeightMatrix w, float[] y, int yOff, int m, boolean acc,
                           float[] colScale, float[] colBias) {
        PREFERRED.xWt(x, xOff, w, y, yOff, m, acc, colScale, colBias);
    }

    /**
     * {@code y = x·Wᵀ} and {@code ay = a·Wᵀ} with W read once for both. x: [m, in], a: [r, in], w: [out, in] -> y:
     * [m, out], ay: [r, out], both overwritten.
     */
    public static void xWtShared(float[] x, int xOff, int m, float[] a, int aOff, int r, WeightMatrix w, float[] y,
                                 int yOff, float[] ay, int ayOff) {
        PREFERRED.xWtShared(x, xOff, m, a, aOff, r, w, y, yOff, ay, ayOff);
    }

    /** {@code dx (+)= g·diag(rowScale)·W} for a weight in any storage. g: [m, out], w: [out, in] -> dx: [m, in]. */
    public static void gW(float[] g, int gOff, WeightMatrix w, float[] rowScale, float[] dx, int dxOff, int m,
                          boolean acc) {
        PREFERRED.gW(g, gOff, w, rowScale, dx, dxOff, m, acc);
    }
}
