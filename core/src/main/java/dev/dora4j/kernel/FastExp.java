package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * exp(x) in float from IEEE additions and multiplications only (Cody–Waite range reduction and
 * Cephes' degree-6 polynomial, about 1 ulp), in a vector form and a scalar twin that give the same
 * bits. The Vector API's own {@code EXP} is computed by different code in the interpreter and in
 * compiled code, so results would depend on how warm the JIT is; training must be bitwise
 * reproducible (a resumed run equals the uninterrupted one), so every exp in a kernel goes here.
 */
public final class FastExp {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f;
    private static final float HI = 88.3762626647949f;
    private static final float LO = -87.3365447504f;
    /** Added to the bits of ROUND + n to give n + 127, the biased exponent of 2^n. */
    private static final int EXPONENT_BIAS = 127 - Float.floatToRawIntBits(ROUND);
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    private FastExp() {}

    /** exp(x); 0 below about -87.3, +inf above about 88.4, NaN for NaN. */
    public static float exp(float x) {
        if (Float.isNaN(x)) return x;
        if (x < LO) return 0f;
        if (x > HI) return Float.POSITIVE_INFINITY;
        float n = (x * LOG2E + ROUND) - ROUND;
        float r = x - n * LN2_HI;
        r = r - n * LN2_LO;
        float p = P0 * r + P1;
        p = p * r + P2;
        p = p * r + P3;
        p = p * r + P4;
        p = p * r + P5;
        p = p * (r * r) + r;
        p = p + 1f;
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /**
     * exp of every lane, bit-identical to {@link #exp(float)} lane by lane. Lanes below {@code LO}, above {@code HI}
     * or NaN are computed on whatever they hold and replaced at the end, so no lane is clamped first (the Vector API's
     * min and max carry Java's NaN rules, several instructions each on x86); 2^n is built from the bits of
     * {@code x·log2(e) + ROUND}, whose low bits are n itself, instead of converting n to an int (which carries Java's
     * NaN and overflow rules too). A lane that is kept goes through the scalar's arithmetic step for step.
     */
    public static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.compare(VectorOperators.LT, LO);
        VectorMask<Float> over = x.compare(VectorOperators.GT, HI);
        VectorMask<Float> nan = x.test(VectorOperators.IS_NAN);
        FloatVector t = x.mul(LOG2E).add(ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = x.sub(n.mul(LN2_HI));
        r = r.sub(n.mul(LN2_LO));
        FloatVector p = r.mul(P0).add(P1);
        p = p.mul(r).add(P2);
        p = p.mul(r).add(P3);
        p = p.mul(r).add(P4);
        p = p.mul(r).add(P5);
        p = p.mul(r.mul(r)).add(r);
        p = p.add(1f);
        // t = 1.5·2^23 + n exactly for |n| < 2^22, so its bits are ROUND's plus n
        IntVector bits = ((IntVector) t.reinterpretAsInts()).add(EXPONENT_BIAS).lanewise(VectorOperators.LSHL, 23);
        FloatVector out = p.mul((FloatVector) bits.reinterpretAsFloats());
        return out.blend(0f, under).blend(Float.POSITIVE_INFINITY, over).blend(x, nan);
    }

    /** The sum of the lanes from first to last, in that order: unlike {@code reduceLanes(ADD)}, the same bits in every JIT state. */
    public static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }

    /**
     * {@link #sumLanes(FloatVector)} of a vector stored at {@code a[off .. off + n)}: for hot loops, where passing a
     * vector to a call that is not inlined boxes it (an allocation per call).
     */
    public static float sumLanes(float[] a, int off, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[off + i];
        return s;
    }
}
