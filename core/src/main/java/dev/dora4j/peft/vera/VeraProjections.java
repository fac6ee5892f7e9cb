package dev.dora4j.peft.vera;

import dev.dora4j.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * The frozen random projections every VeRA layer of a model shares: {@code vera_A: [r, maxIn]} and
 * {@code vera_B: [maxOut, r]}, sized by the largest targeted layer. A layer of shape [out, in] uses the first
 * {@code in} columns of A and the first {@code out} rows of B.
 */
final class VeraProjections {
    private final Tensor veraA;
    private final Tensor veraB;

    VeraProjections(Tensor veraA, Tensor veraB) {
        if (veraA.rank() != 2 || veraB.rank() != 2 || veraA.dim(0) != veraB.dim(1)) {
            throw new IllegalArgumentException("vera_A " + veraA + " and vera_B " + veraB + " do not share a rank");
        }
        this.veraA = veraA;
        this.veraB = veraB;
    }

    /**
     * Fresh projections as PEFT's {@code _kaiming_init} draws them: uniform in ±√(6 / fan_in), fan_in = maxIn for A and
     * r for B. The stream is seeded by {@code projection_prng_key} but is not torch's generator, so these projections
     * are always saved with the adapter.
     */
    static VeraProjections kaiming(int r, int maxIn, int maxOut, long prngKey) {
        SplittableRandom rng = new SplittableRandom(prngKey);
        return new VeraProjections(Tensor.of(uniform(rng, r * maxIn, Math.sqrt(6.0 / maxIn)), r, maxIn),
                Tensor.of(uniform(rng, maxOut * r, Math.sqrt(6.0 / r)), maxOut, r));
    }

    private static float[] uniform(SplittableRandom rng, int n, double bound) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        return v;
    }

    Tensor veraA() {
        return veraA;
    }

    Tensor veraB() {
        return veraB;
    }

    int rank() {
        return veraA.dim(0);
    }

    int maxIn() {
        return veraA.dim(1);
    }

    int maxOut() {
        return veraB.dim(0);
    }

    boolean fits(int out, int in) {
        return in <= maxIn() && out <= maxOut();
    }

    /** A[:, :in] scaled per row: lambdaD: [r] -> a: [r, in] with a[j, i] = λ_d[j] · A[j, i]. */
    void scaledA(float[] lambdaD, int in, float[] a) {
        float[] full = veraA.data();
        int r = rank(), maxIn = maxIn();
        for (int j = 0; j < r; j++) {
            float d = lambdaD[j];
            for (int i = 0; i < in; i++) a[j * in + i] = d * full[j * maxIn + i];
        }
    }

    /** B[:out, :] scaled per row: lambdaB: [out] -> b: [out, r] with b[o, j] = λ_b[o] · B[o, j]. */
    void scaledB(float[] lambdaB, int out, float[] b) {
        float[] full = veraB.data();
        int r = rank();
        for (int o = 0; o < out; o++) {
            float s = lambdaB[o];
            for (int j = 0; j < r; j++) b[o * r + j] = s * full[o * r + j];
        }
    }
}
