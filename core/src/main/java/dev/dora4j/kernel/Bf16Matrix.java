package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** A matrix kept as bfloat16 (the upper half of a float32, rounded to nearest even), widened exactly to float. */
public final class Bf16Matrix extends HalfMatrix {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Shorts with as many lanes as a float vector, or null where that is narrower than any vector shape. */
    private static final VectorSpecies<Short> H = F.length() * 16 >= 64
            ? VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16)) : null;

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
    public void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff) {
        int s = start(row, col0, n, dst, dOff), i = 0;
        if (H != null) {
            // sign-extend to int, shift into the upper half: the float32 with these bits, L values at a time
            for (int bound = F.loopBound(n); i < bound; i += F.length()) {
                ((IntVector) ShortVector.fromArray(H, bits, s + i).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().mul(scale).intoArray(dst, dOff + i);
            }
        }
        for (; i < n; i++) dst[dOff + i] = Float.intBitsToFloat(bits[s + i] << 16) * scale;
    }

    @Override
    public Bf16Matrix encode(float[] values) {
        checkEncodable(values);
        return of(values, rows, cols);
    }
}
