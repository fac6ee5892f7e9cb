package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class GeluTest {
    private static float[] inputs() {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[4099];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble(-14, 14) * (i % 3 == 0 ? 0.1 : 1));
        x[0] = 0f;
        x[1] = -0f;
        x[2] = Float.NaN;
        x[3] = 1e-30f;
        x[4] = -40f;
        x[5] = 40f;
        return x;
    }

    @Test
    void everySpeciesGivesTheScalarBitsAndStaysWithinTheErrorBound() {
        float[] x = inputs();
        float[] exact = new float[x.length], dExact = new float[x.length], g = new float[x.length];
        java.util.Arrays.fill(g, 1f);
        VecOpsScalar.gelu(x, 0, exact, 0, x.length);
        VecOpsScalar.geluBackward(x, 0, g, 0, dExact, 0, x.length);
        for (VectorSpecies<Float> s : Species.all()) {
            VecOpsKernel k = VecOps.using(s);
            float[] y = new float[x.length + 2], d = new float[x.length + 2];
            y[x.length + 1] = 7f;
            k.gelu(x, 0, y, 1, x.length);
            k.geluBackward(x, 0, g, 0, d, 1, x.length);
            assertThat(y[0]).as("guard").isZero();
            assertThat(y[x.length + 1]).as("guard").isEqualTo(7f);
            for (int i = 0; i < x.length; i++) {
                assertThat(Float.floatToIntBits(y[i + 1])).as("%s gelu(%s)", s, x[i]).isEqualTo(Float.floatToIntBits(Gelu.gelu(x[i])));
                assertThat(Float.floatToIntBits(d[i + 1])).as("%s gelu'(%s)", s, x[i])
                        .isEqualTo(Float.floatToIntBits(Gelu.derivative(x[i])));
                if (Float.isNaN(x[i])) {
                    assertThat(y[i + 1]).isNaN();
                    continue;
                }
                double bound = 1.5e-7 * Math.max(1, Math.abs(x[i])) + Math.ulp(exact[i]);
                assertThat((double) y[i + 1]).as("gelu(%s)", x[i]).isCloseTo(exact[i], org.assertj.core.data.Offset.offset(bound));
                assertThat((double) d[i + 1]).as("gelu'(%s)", x[i]).isCloseTo(dExact[i], org.assertj.core.data.Offset.offset(3e-7));
            }
        }
    }

    @Test
    void knownValues() {
        assertThat((double) Gelu.gelu(1f)).isCloseTo(0.8413447460685429, org.assertj.core.data.Offset.offset(2e-7));
        assertThat((double) Gelu.gelu(-0.5f)).isCloseTo(-0.15426876936299344, org.assertj.core.data.Offset.offset(1e-7));
        assertThat(Gelu.gelu(-40f)).isEqualTo(-0f);
        assertThat(Gelu.gelu(40f)).isEqualTo(40f);
        assertThat((double) Gelu.derivative(0f)).isEqualTo(0.5);
    }
}
