package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Vectorised primitives over {@code float[]} at the preferred vector width; see {@link VecOpsKernel}. */
public final class VecOps {
    private static final VecOpsKernel PREFERRED = using(FloatVector.SPECIES_PREFERRED);

    private VecOps() {}

    /** The kernels compiled for {@code species} (made once per species, then shared). */
    public static VecOpsKernel using(VectorSpecies<Float> species) {
        return Specialize.copy(VecOpsSimd.class, VecOpsKernel.class, species);
    }

    /** The kernels the static methods use. */
    public static VecOpsKernel preferred() {
        return PREFERRED;
    }

    /** {@code Σ a[i]·b[i]} over n elements. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return PREFERRED.dot(a, aOff, b, bOff, n);
    }

    /** {@code y += alpha·x} over n elements. */
    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        PREFERRED.axpy(alpha, x, xOff, y, yOff, n);
    }

    /** {@code y += a ⊙ b} over n elements, each product rounded before it is added. */
    public static void mulAdd(float[] a, int aOff, float[] b, int bOff, float[] y, int yOff, int n) {
        PREFERRED.mulAdd(a, aOff, b, bOff, y, yOff, n);
    }

    /** {@code x *= alpha} over n elements. */
    public static void scale(float alpha, float[] x, int off, int n) {
        PREFERRED.scale(alpha, x, off, n);
    }

    /** {@code out = a + b} over n elements (out may be a or b). */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        PREFERRED.add(a, aOff, b, bOff, out, outOff, n);
    }

    /** {@code Σ x[i]²} over n elements. */
    public static float sumSquares(float[] x, int off, int n) {
        return PREFERRED.sumSquares(x, off, n);
    }

    /** Squared row norms. w: [rows, cols] -> out: [rows], {@code out[r] = Σ_c w[r, c]²}. Parallel over rows. */
    public static void rowSumSquares(float[] w, int off, int rows, int cols, float[] out) {
        PREFERRED.rowSumSquares(w, off, rows, cols, out);
    }

    /**
     * Column-wise sums of products, added to y. a, b: [rows, cols] -> y: [cols], {@code y[c] += Σ_r a[r, c]·b[r, c]},
     * each product rounded to float and added in row order (the bits of {@link #mulAdd} row after row). Parallel over
     * columns.
     */
    public static void columnMulAdd(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] y) {
        PREFERRED.columnMulAdd(a, aOff, b, bOff, rows, cols, y);
    }

    /** Row-wise dot products. a, b: [rows, cols] -> out: [rows], {@code out[r] = <a_r, b_r>}. Parallel over rows. */
    public static void rowDots(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] out) {
        PREFERRED.rowDots(a, aOff, b, bOff, rows, cols, out);
    }

    /** Softmax of each row in place, max-subtracted. x: [rows, cols]. Parallel over rows. */
    public static void softmaxRows(float[] x, int off, int rows, int cols) {
        PREFERRED.softmaxRows(x, off, rows, cols);
    }

    /** GELU over n elements; see {@link VecOpsKernel#gelu}. */
    public static void gelu(float[] x, int xOff, float[] y, int yOff, int n) {
        PREFERRED.gelu(x, xOff, y, yOff, n);
    }

    /** {@code gx += g·gelu'(x)} over n elements; see {@link VecOpsKernel#geluBackward}. */
    public static void geluBackward(float[] x, int xOff, float[] g, int gOff, float[] gx, int gxOff, int n) {
        PREFERRED.geluBackward(x, xOff, g, gOff, gx, gxOff, n);
    }
}
