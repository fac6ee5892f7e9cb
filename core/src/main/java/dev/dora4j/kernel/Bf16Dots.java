package dev.dora4j.kernel;

/** Dot products of float rows with bfloat16 rows, widened in registers: the few-row (decoding) x·Wᵀ of a BF16 weight. */
interface Bf16Dots {
    /** False where the species is too narrow for a 16-bit vector of as many lanes; then callers widen rows first. */
    boolean supported();

    /**
     * y[i, j] (+)= ⟨x_i, W_j⟩ for rows i < m and W rows j in [j0, j1), then ⊙ cs[j] + cb[j] where not null.
     * x: [m, k] at xOff, bits: W [n, k] as raw bf16, y: [m, n] at yOff.
     */
    void rows(float[] x, int xOff, short[] bits, int k, int n, int m, int j0, int j1, float[] y, int yOff, boolean acc,
              float[] cs, float[] cb);
}
