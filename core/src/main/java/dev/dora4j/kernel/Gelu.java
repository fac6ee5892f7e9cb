package dev.dora4j.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GELU in float: {@code 0.5·x·(1 + erf(x/√2))} with erf from Abramowitz and Stegun 7.1.26, {@code erfc(z) ≈
 * (a1 t + … + a5 t⁵)·e^{−z²}}, {@code t = 1/(1 + p z)}, |error| < 1.5e-7, and e^{−z²} from {@link FastExp}. For x < 0
 * the factor {@code 1 + erf(x/√2)} is that erfc itself, so the tail has no cancellation. The scalar and vector forms do
 * the same IEEE operations in the same order (no fused multiply-add) and give the same bits.
 */
public final class Gelu {
    private static final float INV_SQRT2 = 0.70710678118654752f;
    private static final float INV_SQRT_2PI = 0.39894228040143268f;
    private static final float P = 0.3275911f;
    private static final float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f,
            A5 = 1.061405429f;

    private static final double INV_SQRT2_D = 1.0 / Math.sqrt(2.0);
    private static final double INV_SQRT_2PI_D = 1.0 / Math.sqrt(2.0 * Math.PI);

    private Gelu() {}

    /** The reference in double: 0.5·x·(1 + erf(x/√2)) as 0.5·x·erfc(−x/√2), so the negative tail keeps its digits. */
    public static double exact(double x) {
        return 0.5 * x * Erf.erfc(-x * INV_SQRT2_D);
    }

    /** The reference derivative in double: Φ(x) + x·φ(x). */
    public static double exactDerivative(double x) {
        return 0.5 * Erf.erfc(-x * INV_SQRT2_D) + x * INV_SQRT_2PI_D * StrictMath.exp(-0.5 * x * x);
    }

    public static float gelu(float x) {
        float z = Math.abs(x) * INV_SQRT2;
        float e = FastExp.exp(-(z * z));
        return 0.5f * x * twicePhi(x, z, e);
    }

    /** gelu'(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π). */
    public static float derivative(float x) {
        float z = Math.abs(x) * INV_SQRT2;
        float e = FastExp.exp(-(z * z));
        return 0.5f * twicePhi(x, z, e) + x * INV_SQRT_2PI * e;
    }

    // 2·Φ(x) = 1 + erf(x/√2), given z = |x|/√2 and e = e^{−z²}
    private static float twicePhi(float x, float z, float e) {
        float t = 1f / (1f + P * z);
        float c = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * e;
        return x >= 0f ? 2f - c : c;
    }

    /** 2·Φ(x) = 1 + erf(x/√2), lane by lane. */
    static FloatVector twicePhi(FloatVector x) {
        FloatVector z = x.abs().mul(INV_SQRT2);
        FloatVector e = FastExp.exp(z.mul(z).neg());
        return twicePhi(x, z, e);
    }

    private static FloatVector twicePhi(FloatVector x, FloatVector z, FloatVector e) {
        FloatVector t = z.mul(P).add(1f);
        t = FloatVector.broadcast(x.species(), 1f).div(t);
        FloatVector c = t.mul(A5).add(A4).mul(t).add(A3).mul(t).add(A2).mul(t).add(A1).mul(t).mul(e);
        FloatVector two = FloatVector.broadcast(x.species(), 2f).sub(c);
        return c.blend(two, x.compare(VectorOperators.GE, 0f));
    }

    static FloatVector derivative(FloatVector x) {
        FloatVector z = x.abs().mul(INV_SQRT2);
        FloatVector e = FastExp.exp(z.mul(z).neg());
        return twicePhi(x, z, e).mul(0.5f).add(x.mul(INV_SQRT_2PI).mul(e));
    }
}
