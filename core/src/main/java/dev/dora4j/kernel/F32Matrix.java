package dev.dora4j.kernel;

import java.util.Objects;

/** A float32 matrix: a view over {@code data[offset .. offset + rows·cols)}, row-major. */
public final class F32Matrix implements WeightMatrix {
    private final float[] data;
    private final int offset, rows, cols;

    public F32Matrix(float[] data, int offset, int rows, int cols) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        Objects.checkFromIndexSize(offset, Math.multiplyExact(rows, cols), data.length);
        this.data = data;
        this.offset = offset;
        this.rows = rows;
        this.cols = cols;
    }

    public F32Matrix(float[] data, int rows, int cols) {
        this(data, 0, rows, cols);
    }

    /** The backing array (not copied); the matrix starts at {@link #offset()}. */
    public float[] data() {
        return data;
    }

    public int offset() {
        return offset;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public WeightStorage storage() {
        return WeightStorage.F32;
    }

    @Override
    public long bytes() {
        return 4L * rows * cols;
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float[] dst, int dOff) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, n, cols);
        System.arraycopy(data, offset + row * cols + col0, dst, dOff, n);
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, n, cols);
        Objects.checkFromIndexSize(dOff, n, dst.length);
        int s = offset + row * cols + col0;
        for (int i = 0; i < n; i++) dst[dOff + i] = data[s + i] * scale;
    }

    @Override
    public F32Matrix encode(float[] values) {
        if (values.length != rows * cols) {
            throw new IllegalArgumentException(values.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
        return new F32Matrix(values.clone(), rows, cols);
    }
}
