package dev.dora4j.autograd;

import dev.dora4j.kernel.FastExp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised row maxima and shifted exponentials for the softmax-based ops (the kernel layer has a softmax that
 * overwrites whole rows; these variants read without writing, or scale while writing). The last partial vector
 * is computed lane by lane with the scalar exponential, which gives the vector one's bits, and summed into the same
 * lanes, so results are those of a masked vector tail.
 */
final class ExpMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** The calling thread's L floats through which a sum leaves its vector register. */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    private ExpMath() {}

    /**
     * Sets x[off + valid, off + end) to -inf, end being valid rounded up to whole vectors but at most n, and returns
     * end: a causal softmax row's masked tail, so that its last valid values go through the vector loops of
     * {@link #max} and {@link #expInPlace} (whose sums and values they leave as they are: exp(-inf) is 0, and a
     * lane plus 0 is that lane) instead of the lane-by-lane scalar exponential.
     */
    static int maskTail(float[] x, int off, int valid, int n) {
        int end = Math.min(n, (valid + L - 1) / L * L);
        for (int i = valid; i < end; i++) x[off + i] = Float.NEGATIVE_INFINITY;
        return end;
    }

    /** max of x[off, off + n); -inf when n == 0. */
    static float max(float[] x, int off, int n) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.max(FloatVector.fromArray(S, x, off + i));
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, x[off + i]);
        return m;
    }

    /** Σ exp(x[i] − shift) over x[off, off + n); x is left unchanged. */
    static float expSum(float[] x, int off, int n, float shift) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = acc.add(FastExp.exp(FloatVector.fromArray(S, x, off + i).sub(shift)));
        }
        // the last partial vector lane by lane (the scalar exp gives the vector's bits): a second vector exp or a
        // vector passed to a call would not be inlined into this loop, and each call would box its vectors
        float[] lanes = LANES.get();
        acc.intoArray(lanes, 0);
        for (int j = 0; i + j < n; j++) lanes[j] += FastExp.exp(x[off + i + j] - shift);
        return FastExp.sumLanes(lanes, 0, L);
    }

    /** x[i] = exp(x[i] − shift) · scale over x[off, off + n); returns Σ exp(x[i] − shift). */
    static float expInPlace(float[] x, int off, int n, float shift, float scale) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = FastExp.exp(FloatVector.fromArray(S, x, off + i).sub(shift));
            acc = acc.add(e);
            e.mul(scale).intoArray(x, off + i);
        }
        float[] lanes = LANES.get();
        acc.intoArray(lanes, 0);
        for (int j = 0; i + j < n; j++) {
            float e = FastExp.exp(x[off + i + j] - shift);
            lanes[j] += e;
            x[off + i + j] = e * scale;
        }
        return FastExp.sumLanes(lanes, 0, L);
    }
}
