package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class FastExpTest {
    @Test
    void scalarIsWithinTwoUlpsOfMathExpOverTheNormalRange() {
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) (rng.nextDouble() * 175 - 87);
            float want = (float) Math.exp(x);
            float got = FastExp.exp(x);
            assertThat(Math.abs(got - want)).as("exp(%s)", x).isLessThanOrEqualTo(2 * Math.ulp(want));
        }
    }

    @Test
    void edgeCases() {
        assertThat(FastExp.exp(0f)).isEqualTo(1f);
        assertThat(FastExp.exp(Float.NEGATIVE_INFINITY)).isZero();
        assertThat(FastExp.exp(-200f)).isZero();
        assertThat(FastExp.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FastExp.exp(100f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(FastExp.exp(Float.NaN)).isNaN();
    }

    @Test
    void vectorGivesTheScalarsBitsAtEveryWidth() {
        SplittableRandom rng = new SplittableRandom(2);
        for (VectorSpecies<Float> s : new VectorSpecies[] {FloatVector.SPECIES_64, FloatVector.SPECIES_128,
                FloatVector.SPECIES_256, FloatVector.SPECIES_512}) {
            float[] x = new float[s.length() * 500];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextDouble() * 220 - 110);
            float[] edges = {Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.MAX_VALUE,
                -Float.MAX_VALUE, 1e30f, -1e30f, 88.3762626647949f, Math.nextUp(88.3762626647949f),
                Math.nextDown(88.3762626647949f), -87.3365447504f, Math.nextDown(-87.3365447504f),
                Math.nextUp(-87.3365447504f), -126 * 0.6931472f, 128 * 0.6931472f, 0f, -0f, Float.MIN_VALUE};
            System.arraycopy(edges, 0, x, 0, edges.length);
            float[] y = new float[x.length];
            for (int i = 0; i < x.length; i += s.length()) FastExp.exp(FloatVector.fromArray(s, x, i)).intoArray(y, i);
            for (int i = 0; i < x.length; i++) {
                assertThat(Float.floatToRawIntBits(y[i])).as("%s lane %d x=%s", s, i, x[i])
                        .isEqualTo(Float.floatToRawIntBits(FastExp.exp(x[i])));
            }
        }
    }

    @Test
    void sumLanesAddsInLaneOrder() {
        float[] v = new float[FloatVector.SPECIES_512.length()];
        for (int i = 0; i < v.length; i++) v[i] = i % 2 == 0 ? 1e8f : 1f;
        float want = 0f;
        for (float f : v) want += f;
        assertThat(FastExp.sumLanes(FloatVector.fromArray(FloatVector.SPECIES_512, v, 0))).isEqualTo(want);
    }
}
