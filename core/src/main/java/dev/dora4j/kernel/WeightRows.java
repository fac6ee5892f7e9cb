package dev.dora4j.kernel;

/**
 * Products that read a {@link WeightMatrix} row by row, widening a block of rows at a time into a scratch buffer
 * of at most {@link #BLOCK_FLOATS} floats per thread.
 */
final class WeightRows {
    /** Floats in one widened block of rows. */
    static final int BLOCK_FLOATS = 1 << 18;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {new float[0]});
    /** The calling thread's block of dequantized rows in {@link #timesTransposed}, reused from call to call. */
    private static final ThreadLocal<float[][]> BLOCK = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    private WeightRows() {}

    /** Rows of {@code w} per widened block. */
    static int blockRows(WeightMatrix w) {
        return Math.max(1, BLOCK_FLOATS / Math.max(1, w.cols()));
    }

    /** A scratch array of the calling thread with at least {@code size} floats; its contents are garbage. */
    static float[] scratch(int size) {
        return atLeast(SCRATCH, size);
    }

    // the calling thread's array in holder, grown to at least size floats
    private static float[] atLeast(ThreadLocal<float[][]> holder, int size) {
        float[][] h = holder.get();
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

    /** w: [n, k], a: [r, k] at aOff -> out: [n, r] at outOff = W·Aᵀ. */
    static void timesTransposed(GemmKernel kernel, WeightMatrix w, float[] a, int aOff, int r, float[] out,
                                int outOff) {
        if (w instanceof F32Matrix f) {
            kernel.xWt(f.data(), f.offset(), a, aOff, out, outOff, f.rows(), f.cols(), r, false);
            return;
        }
        int n = w.rows(), k = w.cols(), block = blockRows(w);
        float[] rows = atLeast(BLOCK, Math.min(n, block) * k);
        for (int r0 = 0; r0 < n; r0 += block) {
            int count = Math.min(block, n - r0), first = r0;
            Parallel.range(count, Math.max(1, 4096 / Math.max(1, k)), (i0, i1) -> {
                for (int i = i0; i < i1; i++) w.dequantizeRow(first + i, 0, k, rows, i * k);
            });
            kernel.xWt(rows, 0, a, aOff, out, outOff + r0 * r, count, k, r, false);
        }
    }
}
