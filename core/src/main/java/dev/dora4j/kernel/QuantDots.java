package dev.dora4j.kernel;

/**
 * Dot products of float rows with int8 or 4-bit rows, decoded in registers: the few-row (decoding) x·Wᵀ of a quantised
 * weight, which reads the weight at one byte or half a byte a value and never stores it as float.
 */
interface QuantDots {
    /** True where this species can decode {@code w} in registers; else callers widen rows first. */
    boolean supports(WeightMatrix w);

    /**
     * y[i, j] (+)= ⟨x_i, W_j⟩ for rows i < m and W rows j in [j0, j1), then ⊙ cs[j] + cb[j] where not null.
     * x: [m, k] at xOff; for a 4-bit W, {@code pairs}: [m, 2, k/2], each x row's even-indexed then odd-indexed values
     * (the values the high and the low nibbles multiply); y: [m, n] at yOff.
     */
    void rows(float[] x, int xOff, float[] pairs, WeightMatrix w, int m, int j0, int j1, float[] y, int yOff,
              boolean acc, float[] cs, float[] cb);
}
