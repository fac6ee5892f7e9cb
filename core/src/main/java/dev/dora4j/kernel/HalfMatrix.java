package dev.dora4j.kernel;

import java.util.Objects;

/** A matrix kept as 16-bit floats (raw bits in a {@code short[]}, two bytes a value, as model files store it). */
public abstract sealed class HalfMatrix implements WeightMatrix permits Bf16Matrix, F16Matrix {
    final short[] bits;
    final int rows, cols;

    HalfMatrix(short[] bits, int rows, int cols) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        if (bits.length != (long) rows * cols) {
            throw new IllegalArgumentException(bits.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
        this.bits = bits;
        this.rows = rows;
        this.cols = cols;
    }

    /** The raw 16-bit values (not copied; do not modify). */
    public final short[] bits() {
        return bits;
    }

    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final long bytes() {
        return 2L * bits.length;
    }

    /** The first index of W[row, col0 .. col0 + n) in {@link #bits}, after checking the stretch and dst. */
    final int start(int row, int col0, int n, float[] dst, int dOff) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, n, cols);
        Objects.checkFromIndexSize(dOff, n, dst.length);
        return row * cols + col0;
    }

    final void checkEncodable(float[] values) {
        if (values.length != bits.length) {
            throw new IllegalArgumentException(values.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
    }
}
