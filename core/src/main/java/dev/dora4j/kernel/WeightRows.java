package dev.dora4j.kernel;

/** Reading a {@link WeightMatrix} row by row: a per-thread scratch to widen rows into, and the row norms. */
final class WeightRows {
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    private WeightRows() {}

    /** A scratch array of the calling thread with at least {@code size} floats; its contents are garbage. */
    static float[] scratch(int size) {
        float[][] h = SCRATCH.get();
        if (h[0].length < size) h[0] = new float[size];
        return h[0];
    }

    /** w: [rows, cols] -> ‖W_row‖² per row, accumulated in double. */
    static double[] squaredNorms(WeightMatrix w) {
        int rows = w.rows(), cols = w.cols();
        double[] sq = new double[rows];
        Parallel.range(rows, Math.max(1, 65536 / Math.max(1, cols)), (r0, r1) -> {
            float[] row = scratch(cols);
            for (int r = r0; r < r1; r++) {
                w.dequantizeRow(r, 0, cols, row, 0);
                double s = 0;
                for (int i = 0; i < cols; i++) s += (double) row[i] * row[i];
                sq[r] = s;
            }
        });
        return sq;
    }
}
