package dev.dora4j.kernel;

/** A matrix kept as bfloat16 (the upper half of a float32, rounded to nearest even), widened exactly to float. */
public final class Bf16Matrix extends HalfMatrix {
    /** bits: [rows, cols] raw BF16 values (not copied). */
    public Bf16Matrix(short[] bits, int rows, int cols) {
        super(bits, rows, cols);
    }

    /** values: [rows, cols] rounded to BF16 (nearest, ties to even). */
    public static Bf16Matrix of(float[] values, int rows, int cols) {
        short[] out = new short[values.length];
        Half.floatToBf16(values, 0, out, 0, values.length);
        return new Bf16Matrix(out, rows, cols);
    }

    @Override
    public WeightStorage storage() {
        return WeightStorage.BF16;
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float[] dst, int dOff) {
        int s = start(row, col0, n, dst, dOff);
        for (int i = 0; i < n; i++) dst[dOff + i] = Float.intBitsToFloat(bits[s + i] << 16);
    }

    @Override
    public Bf16Matrix encode(float[] values) {
        checkEncodable(values);
        return of(values, rows, cols);
    }
}
