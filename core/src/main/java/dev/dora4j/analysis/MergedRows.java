package dev.dora4j.analysis;

import dev.dora4j.peft.ModuleWeights;

/**
 * The rows of an adapter's merged weight exactly as its method merges it, in double precision
 * ({@link ModuleWeights#mergeRow}). Each row is formed on its own, never the whole {@code [out, in]} matrix.
 */
final class MergedRows implements WeightDeltas.RowSource {
    private final float[] weight;
    private final int in;
    private final ModuleWeights module;

    /** @param w0 the base weight [out, in] */
    MergedRows(Matrix w0, ModuleWeights module) {
        this.weight = w0.data();
        this.in = w0.cols();
        this.module = module;
    }

    @Override
    public void fill(int o, double[] row) {
        for (int i = 0, at = o * in; i < in; i++) row[i] = weight[at + i];
        module.mergeRow(o, row);
    }
}
