package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.kernel.FastExp;
import dev.dora4j.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The last partial vector of the exponential sums and of swiglu is computed lane by lane; results must be the bits a
 * masked vector tail gives, whatever the length, so that a value never depends on where in a row it falls.
 */
class VectorTailTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private static float[] random(int n, long seed, double scale) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        return x;
    }

    // Σ exp(x − shift) and x ← exp(x − shift)·scale with a masked vector tail: the reference
    private static float maskedExp(float[] x, int off, int n, float shift, float scale, boolean write) {
        FloatVector acc = FloatVector.zero(S);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = FastExp.exp(FloatVector.fromArray(S, x, off + i, m).sub(shift));
            acc = acc.add(e, m);
            if (write) e.mul(scale).intoArray(x, off + i, m);
        }
        return FastExp.sumLanes(acc);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 15, 16, 17, 31, 33, 100, 1000})
    void exponentialSumsEqualAMaskedVectorTail(int n) {
        float[] x = random(n + 3, n, 30);
        float shift = 2.5f, scale = 0.75f;
        assertThat(Float.floatToIntBits(ExpMath.expSum(x, 3, n, shift)))
                .isEqualTo(Float.floatToIntBits(maskedExp(x, 3, n, shift, 1f, false)));
        float[] mine = x.clone(), reference = x.clone();
        float sum = ExpMath.expInPlace(mine, 3, n, shift, scale);
        float expected = maskedExp(reference, 3, n, shift, scale, true);
        assertThat(Float.floatToIntBits(sum)).isEqualTo(Float.floatToIntBits(expected));
        assertThat(mine).containsExactly(reference);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 15, 16, 17, 40, 63, 64})
    void aCausalRowsMaskedTailGivesTheBitsOfItsValidValuesAlone(int valid) {
        for (int n : new int[] {valid, valid + 1, 64, 70}) {
            if (n < valid) continue;
            float[] x = random(n + 5, 31L * valid + n, 20);
            float[] masked = x.clone();
            int end = ExpMath.maskTail(masked, 5, valid, n);
            assertThat(end).isBetween(valid, n);
            assertThat(end == n || end % L == 0).isTrue();
            for (int i = valid; i < end; i++) assertThat(masked[5 + i]).isEqualTo(Float.NEGATIVE_INFINITY);
            assertThat(Arrays.copyOf(masked, 5 + valid)).containsExactly(Arrays.copyOf(x, 5 + valid));
            float max = ExpMath.max(x, 5, valid);
            assertThat(Float.floatToIntBits(ExpMath.max(masked, 5, end))).isEqualTo(Float.floatToIntBits(max));
            float[] alone = x.clone();
            float sum = ExpMath.expInPlace(alone, 5, valid, max, 1f);
            assertThat(Float.floatToIntBits(ExpMath.expInPlace(masked, 5, end, max, 1f)))
                    .as("valid %d of %d", valid, n).isEqualTo(Float.floatToIntBits(sum));
            assertThat(Arrays.copyOf(masked, 5 + valid)).containsExactly(Arrays.copyOf(alone, 5 + valid));
            for (int i = valid; i < end; i++) assertThat(masked[5 + i]).isEqualTo(0f);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 16, 17, 47, 100})
    void swigluGivesEachElementTheSameBitsWhereverItFalls(int n) {
        float[] g = random(n, 7 * n, 6), u = random(n, 11 * n, 2), dy = random(n, 13 * n, 1);
        float[][] whole = swiglu(g, u, dy);
        for (int k = 0; k < n; k++) {
            float[][] one = swiglu(new float[] {g[k]}, new float[] {u[k]}, new float[] {dy[k]});
            for (int part = 0; part < 3; part++) {
                assertThat(Float.floatToIntBits(whole[part][k])).as("part %d, element %d of %d", part, k, n)
                        .isEqualTo(Float.floatToIntBits(one[part][0]));
            }
        }
        if (n >= L) {
            // an element in a full vector against the same element alone (a lane-by-lane tail)
            float[][] vector = swiglu(Arrays.copyOf(g, L), Arrays.copyOf(u, L), Arrays.copyOf(dy, L));
            for (int part = 0; part < 3; part++) {
                assertThat(Float.floatToIntBits(vector[part][0])).isEqualTo(Float.floatToIntBits(whole[part][0]));
            }
        }
    }

    // {y, d/dgate, d/dup} of swiglu with upstream gradient dy
    private static float[][] swiglu(float[] g, float[] u, float[] dy) {
        Tensor gate = Tensor.param(g.clone(), g.length), up = Tensor.param(u.clone(), u.length);
        Tape tape = Tape.training();
        Tensor y = TransformerOps.swiglu(tape, gate, up);
        System.arraycopy(dy, 0, y.grad(), 0, dy.length);
        tape.backwardFromSeeded();
        return new float[][] {y.data().clone(), gate.grad().clone(), up.grad().clone()};
    }
}
