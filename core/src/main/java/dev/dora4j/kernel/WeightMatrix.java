package dev.dora4j.kernel;

/**
 * A frozen weight matrix {@code W: [rows, cols]} (PyTorch's {@code [out, in]}) in one storage type. The products a
 * frozen weight takes part in ({@link Gemm#xWt(float[], int, WeightMatrix, float[], int, int, boolean, float[],
 * float[]) x·Wᵀ}, {@link Gemm#gW(float[], int, WeightMatrix, float[], float[], int, int, boolean) g·diag(s)·W},
 * {@link Gemm#xWtShared A·Wᵀ next to x·Wᵀ}, {@link #rowSquaredNorms}) widen the values while a panel is packed, a
 * block of rows at a time: never as a float copy of the whole matrix. Implementations are immutable, except that an
 * {@link F32Matrix} is a view over an array that its owner (a trainable tensor) may update.
 *
 * <p>A new storage is one class here: it says how one stretch of a row widens to floats, times a scale
 * ({@link #dequantizeRow}, which is also the scalar twin its products are tested against) and how floats are stored
 * ({@link #encode}).
 */
public sealed interface WeightMatrix permits F32Matrix, HalfMatrix, Int8Matrix, FourBitMatrix {
    /** Output features: the number of rows. */
    int rows();

    /** Input features: the number of columns. */
    int cols();

    WeightStorage storage();

    /** Bytes the storage occupies, scales and code tables included. */
    long bytes();

    /** W[row, col0 .. col0 + n) widened to floats -> dst[dOff .. dOff + n). */
    default void dequantizeRow(int row, int col0, int n, float[] dst, int dOff) {
        dequantizeRow(row, col0, n, 1f, dst, dOff);
    }

    /**
     * W[row, col0 .. col0 + n) widened to floats, each then times {@code scale} (rounded after the widening, as a
     * widened value times {@code scale} would be; a scale of 1 changes nothing) -> dst[dOff .. dOff + n): a row of
     * DoRA's {@code diag(s)·W} as g·W packs it, in the same pass as the widening.
     */
    void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff);

    /** A matrix of the same storage (and block layout) holding {@code values: [rows, cols]}, rounded as it stores. */
    WeightMatrix encode(float[] values);

    /** Number of values, rows · cols. */
    default long numel() {
        return (long) rows() * cols();
    }

    /**
     * A new float array with every value: for export, merging and analysis, never for the products. Fails for a
     * matrix of more than {@code Integer.MAX_VALUE} values.
     */
    default float[] toFloatArray() {
        int rows = rows(), cols = cols();
        float[] out = new float[Math.toIntExact(numel())];
        for (int r = 0; r < rows; r++) dequantizeRow(r, 0, cols, out, r * cols);
        return out;
    }

    /** ‖W_row‖² per row, accumulated in double over the widened values. */
    default double[] rowSquaredNorms() {
        return WeightRows.squaredNorms(this);
    }
}
