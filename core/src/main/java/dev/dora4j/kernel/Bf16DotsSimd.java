package dev.dora4j.kernel;

import java.lang.invoke.MethodHandles;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Bf16Dots} on one float species (a template: {@link Specialize} makes one copy per species). A bf16 value is
 * the upper half of a float32, so a vector of them widens exactly by sign-extending to int, shifting left by 16 and
 * reinterpreting the bits: the weight is read from memory at two bytes a value and never stored as float.
 */
final class Bf16DotsSimd implements Bf16Dots {
    private static final VectorSpecies<Float> S = Specialize.species(MethodHandles.lookup());
    private static final int L = S.length();
    private static final boolean SUPPORTED = L * 16 >= 64;
    private static final VectorSpecies<Short> H = SUPPORTED
            ? VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16)) : null;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());

    Bf16DotsSimd() {}

    @Override
    public boolean supported() {
        return SUPPORTED;
    }

    @Override
    public void rows(float[] x, int xOff, short[] bits, int k, int n, int m, int j0, int j1, float[] y, int yOff,
                     boolean acc, float[] cs, float[] cb) {
        int bound = S.loopBound(k);
        // the four sums leave registers through this scratch (a call per vector would box them)
        float[] lanes = new float[4 * L];
        for (int j = j0; j < j1; j += 4) {
            int rows = Math.min(4, j1 - j);
            int w0 = j * k, w1 = (j + Math.min(1, rows - 1)) * k, w2 = (j + Math.min(2, rows - 1)) * k;
            int w3 = (j + Math.min(3, rows - 1)) * k;
            for (int i = 0; i < m; i++) {
                int xi = xOff + i * k;
                FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
                for (int p = 0; p < bound; p += L) {
                    FloatVector xv = FloatVector.fromArray(S, x, xi + p);
                    s0 = xv.fma(widen(bits, w0 + p), s0);
                    s1 = xv.fma(widen(bits, w1 + p), s1);
                    s2 = xv.fma(widen(bits, w2 + p), s2);
                    s3 = xv.fma(widen(bits, w3 + p), s3);
                }
                s0.intoArray(lanes, 0);
                s1.intoArray(lanes, L);
                s2.intoArray(lanes, 2 * L);
                s3.intoArray(lanes, 3 * L);
                for (int r = 0; r < rows; r++) {
                    float s = FastExp.sumLanes(lanes, r * L, L);
                    int start = r == 0 ? w0 : r == 1 ? w1 : r == 2 ? w2 : w3;
                    for (int p = bound; p < k; p++) s += x[xi + p] * Float.intBitsToFloat(bits[start + p] << 16);
                    int yi = yOff + i * n + j + r;
                    if (acc) s += y[yi];
                    if (cs != null) s *= cs[j + r];
                    if (cb != null) s += cb[j + r];
                    y[yi] = s;
                }
            }
        }
    }

    // L bf16 values at bits[off] -> the L floats they are
    private static FloatVector widen(short[] bits, int off) {
        IntVector wide = (IntVector) ShortVector.fromArray(H, bits, off).convertShape(VectorOperators.S2I, I, 0);
        return wide.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
