package dev.dora4j.analysis;

/**
 * The rows of an adapter's merged weight exactly as PEFT merges it, in double precision:
 * LoRA {@code W + s·B·A}; DoRA {@code (m / ‖W + s·B·A‖) ⊙ (W + s·B·A)} row-wise, a row of zero norm
 * scaled by 0. Each row is formed on its own, never the whole {@code [out, in]} product.
 */
final class MergedRows implements WeightDeltas.RowSource {
    private final float[] weight, loraA, loraB, magnitude;
    private final int in, rank;
    private final double scaling;

    /**
     * @param w0        the base weight [out, in]
     * @param loraA     [r, in]
     * @param loraB     [out, r]
     * @param magnitude [out] for DoRA, null for LoRA
     * @param scaling   alpha / r, or alpha / sqrt(r) with rsLoRA
     */
    MergedRows(Matrix w0, float[] loraA, float[] loraB, float[] magnitude, int rank, double scaling) {
        this.weight = w0.data();
        this.in = w0.cols();
        this.loraA = loraA;
        this.loraB = loraB;
        this.magnitude = magnitude;
        this.rank = rank;
        this.scaling = scaling;
    }

    @Override
    public void fill(int o, double[] row) {
        for (int i = 0, at = o * in; i < in; i++) row[i] = weight[at + i];
        for (int j = 0; j < rank; j++) {
            double c = scaling * loraB[o * rank + j];
            if (c == 0) continue;
            for (int i = 0, at = j * in; i < in; i++) row[i] += c * loraA[at + i];
        }
        if (magnitude == null) return;
        double sq = 0;
        for (int i = 0; i < in; i++) sq += row[i] * row[i];
        double norm = Math.sqrt(sq);
        double scale = norm > 0 ? magnitude[o] / norm : 0.0;
        for (int i = 0; i < in; i++) row[i] *= scale;
    }
}
