package dev.dora4j.kernel;

import jdk.incubator.vector.VectorSpecies;

/**
 * The three matrix products that training needs, for one vector species. All arrays are row-major and contiguous,
 * offsets count elements, and {@code acc} adds the product into the output instead of overwriting it.
 *
 * @see Gemm for the instance that uses the preferred species, and for instances at other widths
 */
public interface GemmKernel {
    /** The vector species the kernels compute with. */
    VectorSpecies<Float> species();

    /** {@code y = x·Wᵀ}. x: [m, k], w: [n, k] -> y: [m, n]. */
    default void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n, boolean acc) {
        xWt(x, xOff, w, wOff, y, yOff, m, k, n, acc, null, null);
    }

    /**
     * {@code y = (y + x·Wᵀ) ⊙ colScale + colBias} with {@code acc}, {@code y = x·Wᵀ ⊙ colScale + colBias} without:
     * each column j of the result is multiplied by {@code colScale[j]} and then {@code colBias[j]} is added, in the
     * same pass that stores the product. x: [m, k], w: [n, k], colScale, colBias: [n] or null (no scaling, no bias)
     * -> y: [m, n].
     */
    void xWt(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int m, int k, int n, boolean acc,
             float[] colScale, float[] colBias);

    /** {@code dx = g·W}. g: [m, n], w: [n, k] -> dx: [m, k]. */
    default void gW(float[] g, int gOff, float[] w, int wOff, float[] dx, int dxOff, int m, int n, int k, boolean acc) {
        gW(g, gOff, w, wOff, null, dx, dxOff, m, n, k, acc);
    }

    /**
     * {@code dx = g·diag(rowScale)·W}: row p of W is multiplied by {@code rowScale[p]} as it is packed, so the scaled
     * matrix is never stored. g: [m, n], w: [n, k], rowScale: [n] or null (no scaling) -> dx: [m, k].
     */
    void gW(float[] g, int gOff, float[] w, int wOff, float[] rowScale, float[] dx, int dxOff, int m, int n, int k,
            boolean acc);

    /** {@code dW = gᵀ·x}. g: [m, n], x: [m, k] -> dw: [n, k]. */
    void gtX(float[] g, int gOff, float[] x, int xOff, float[] dw, int dwOff, int m, int n, int k, boolean acc);

    /**
     * {@code y = (acc ? y + x·Wᵀ : x·Wᵀ) ⊙ colScale + colBias} for a weight in any storage, widened panel by panel.
     * x: [m, in] at xOff, w: [out, in], colScale, colBias: [out] or null -> y: [m, out] at yOff.
     */
    void xWt(float[] x, int xOff, WeightMatrix w, float[] y, int yOff, int m, boolean acc, float[] colScale,
             float[] colBias);

    /**
     * {@code y = x·Wᵀ} and {@code ay = a·Wᵀ}: two left-hand matrices times the same weight, which a kernel may read
     * (and widen) once for both. x: [m, in] at xOff, a: [r, in] at aOff, w: [out, in] -> y: [m, out] at yOff, ay:
     * [r, out] at ayOff, both overwritten.
     */
    default void xWtShared(float[] x, int xOff, int m, float[] a, int aOff, int r, WeightMatrix w, float[] y, int yOff,
                           float[] ay, int ayOff) {
        xWt(x, xOff, w, y, yOff, m, false, null, null);
        xWt(a, aOff, w, ay, ayOff, r, false, null, null);
    }

    /**
     * {@code dx (+)= g·diag(rowScale)·W} for a weight in any storage. g: [m, out] at gOff, w: [out, in], rowScale:
     * [out] or null -> dx: [m, in] at dxOff.
     */
    void gW(float[] g, int gOff, WeightMatrix w, float[] rowScale, float[] dx, int dxOff, int m, boolean acc);
}
