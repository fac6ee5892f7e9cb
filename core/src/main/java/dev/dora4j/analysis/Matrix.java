package dev.dora4j.analysis;

import java.util.Arrays;

/**
 * A named weight matrix in memory, PyTorch layout.
 *
 * @param data [rows, cols] row-major
 */
public record Matrix(String name, float[] data, int rows, int cols) {
    public Matrix {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values for shape [" + rows + ", " + cols + "]");
        }
    }

    public long[] shape() {
        return new long[] {rows, cols};
    }

    /** True when {@code shape} is exactly [rows, cols]. */
    public boolean hasShape(long[] shape) {
        return Arrays.equals(shape, shape());
    }
}
