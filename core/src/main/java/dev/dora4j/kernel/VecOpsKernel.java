package dev.dora4j.kernel;

import jdk.incubator.vector.VectorSpecies;

/**
 * Vector primitives over {@code float[]} for one vector species. Offsets count elements; matrices are row-major
 * and contiguous.
 *
 * @see VecOps for the instance that uses the preferred species, and for instances at other widths
 */
public interface VecOpsKernel {
    /** The vector species the kernels compute with. */
    VectorSpecies<Float> species();

    /** {@code Σ a[i]·b[i]} over n elements. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code y += alpha·x} over n elements. */
    void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n);

    /** {@code y += a ⊙ b} over n elements, each product rounded to float before it is added (no fused multiply-add). */
    void mulAdd(float[] a, int aOff, float[] b, int bOff, float[] y, int yOff, int n);

    /** {@code x *= alpha} over n elements. */
    void scale(float alpha, float[] x, int off, int n);

    /** {@code out = a + b} over n elements (out may be a or b). */
    void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n);

    /** {@code Σ x[i]²} over n elements. */
    float sumSquares(float[] x, int off, int n);

    /** Squared row norms. w: [rows, cols] -> out: [rows], {@code out[r] = Σ_c w[r, c]²}. Parallel over rows. */
    void rowSumSquares(float[] w, int off, int rows, int cols, float[] out);

    /** Row-wise dot products. a, b: [rows, cols] -> out: [rows], {@code out[r] = <a_r, b_r>}. Parallel over rows. */
    void rowDots(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] out);

    /**
     * Column-wise sums of products, added to y. a, b: [rows, cols] -> y: [cols], {@code y[c] += Σ_r a[r, c]·b[r, c]},
     * each product rounded to float and added in row order (the bits of {@link #mulAdd} row after row). Parallel over
     * columns.
     */
    void columnMulAdd(float[] a, int aOff, float[] b, int bOff, int rows, int cols, float[] y);

    /**
     * Softmax of each row in place, max-subtracted. x: [rows, cols]. A row that is all {@code -inf} becomes NaN, as in
     * PyTorch. Parallel over rows.
     */
    void softmaxRows(float[] x, int off, int rows, int cols);

    /**
     * GELU as transformers' {@code "gelu"}, {@code y = 0.5·x·(1 + erf(x/√2))}, over n elements, with erf from
     * Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7) and {@link FastExp}: within 1.5e-7·max(1, |x|) of the exact
     * value; the negative tail is computed as erfc, without cancellation. Every lane gives the bits of
     * {@link Gelu#gelu(float)}.
     */
    void gelu(float[] x, int xOff, float[] y, int yOff, int n);

    /** {@code gx += g · gelu'(x)} over n elements, {@code gelu'(x) = Φ(x) + x·φ(x)}, lane by lane as {@link Gelu#derivative(float)}. */
    void geluBackward(float[] x, int xOff, float[] g, int gOff, float[] gx, int gxOff, int n);
}
