package dev.dora4j.testing;

import static org.assertj.core.api.Assertions.fail;

/** Elementwise comparison against a reference with a relative tolerance. */
public final class Approx {
    private Approx() {}

    /**
     * Asserts {@code |actual − expected| ≤ rel · max(|expected|, rms(expected))} for every element:
     * relative per element, with the tensor's RMS as the floor so entries near zero are judged
     * against the tensor's scale rather than against themselves.
     */
    public static void assertClose(String what, float[] actual, float[] expected, double rel) {
        if (actual.length != expected.length) fail(what + ": length " + actual.length + " != " + expected.length);
        double ss = 0;
        for (float e : expected) ss += (double) e * e;
        double rms = Math.sqrt(ss / Math.max(1, expected.length));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < actual.length; i++) {
            if (!Float.isFinite(actual[i])) fail(what + "[" + i + "] is " + actual[i]);
            double err = Math.abs((double) actual[i] - expected[i]) / Math.max(Math.max(Math.abs(expected[i]), rms), 1e-30);
            if (err > worst) {
                worst = err;
                at = i;
            }
        }
        if (worst > rel) {
            fail(String.format("%s: relative error %.3g at [%d] (actual %s, expected %s) exceeds %.1g",
                    what, worst, at, actual[at], expected[at], rel));
        }
    }
}
