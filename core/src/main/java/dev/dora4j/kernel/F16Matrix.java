package dev.dora4j.kernel;

/** A matrix kept as IEEE binary16, widened exactly to float. */
public final class F16Matrix extends HalfMatrix {
    /** bits: [rows, cols] raw F16 values (not copied). */
    public F16Matrix(short[] bits, int rows, int cols) {
        super(bits, rows, cols);
    }

    /** values: [rows, cols] rounded to F16 (nearest, ties to even). */
    public static F16Matrix of(float[] values, int rows, int cols) {
        short[] out = new short[values.length];
        Half.floatToF16(values, 0, out, 0, values.length);
        return new F16Matrix(out, rows, cols);
    }

    @Override
    public WeightStorage storage() {
        return WeightStorage.F16;
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff) {
        int s = start(row, col0, n, dst, dOff);
        for (int i = 0; i < n; i++) dst[dOff + i] = Float.float16ToFloat(bits[s + i]) * scale;
    }

    @Override
    public F16Matrix encode(float[] values) {
        checkEncodable(values);
        return of(values, rows, cols);
    }
}
