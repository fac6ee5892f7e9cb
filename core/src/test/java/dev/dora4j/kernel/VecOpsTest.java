package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.assertj.core.api.Assertions.offset;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class VecOpsTest {
    private static final int DEFAULT_THREADS = Parallel.threads();
    private static final int[] SIZES = {0, 1, 2, 7, 17, 63, 64, 65, 257, 1000};
    /** (rows, cols), the last ones big enough to be split over threads. */
    private static final int[][] MATRICES = {
        {1, 1}, {3, 7}, {17, 64}, {2, 257}, {65, 17}, {300, 257}, {2000, 33}, {40, 2 * 64 + 16 + 5},
    };

    @AfterAll
    static void restoreThreads() {
        Parallel.setThreads(DEFAULT_THREADS);
    }

    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void vectorOpsMatchScalarTwins(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        VecOpsKernel ops = VecOps.using(species);
        assertThat(ops.species()).isEqualTo(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() + threads);
        for (int n : SIZES) {
            int ao = rnd.nextInt(4), bo = rnd.nextInt(4), oo = rnd.nextInt(4);
            float[] a = random(ao + n + 2, rnd), b = random(bo + n + 2, rnd);
            String where = species + " n=" + n;

            double dotBound = VecOpsScalar.dot(abs(a), ao, abs(b), bo, n);
            close(ops.dot(a, ao, b, bo, n), VecOpsScalar.dot(a, ao, b, bo, n), 1e-5 * dotBound, "dot " + where);
            double sqBound = VecOpsScalar.sumSquares(a, ao, n);
            close(ops.sumSquares(a, ao, n), sqBound, 1e-5 * sqBound, "sumSquares " + where);

            float[] y = b.clone(), yRef = b.clone();
            ops.axpy(0.75f, a, ao, y, bo, n);
            VecOpsScalar.axpy(0.75f, a, ao, yRef, bo, n);
            for (int i = 0; i < y.length; i++) {
                close(y[i], yRef[i], 1e-6 * (Math.abs(b[i]) + Math.abs(0.75 * a[Math.min(a.length - 1, i)])),
                        "axpy " + where + " at " + i);
            }

            float[] m = b.clone(), mRef = b.clone();
            ops.mulAdd(a, ao, a, ao, m, bo, n);
            VecOpsScalar.mulAdd(a, ao, a, ao, mRef, bo, n);
            assertThat(m).as("mulAdd " + where).containsExactly(mRef);

            float[] s = a.clone(), sRef = a.clone();
            ops.scale(-1.5f, s, ao, n);
            VecOpsScalar.scale(-1.5f, sRef, ao, n);
            assertThat(s).as("scale " + where).containsExactly(sRef);

            float[] sum = new float[oo + n + 2], sumRef = new float[oo + n + 2];
            ops.add(a, ao, b, bo, sum, oo, n);
            VecOpsScalar.add(a, ao, b, bo, sumRef, oo, n);
            assertThat(sum).as("add " + where).containsExactly(sumRef);
        }
    }

    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void rowOpsMatchScalarTwins(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        VecOpsKernel ops = VecOps.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 3L + threads);
        for (int[] shape : MATRICES) {
            int rows = shape[0], cols = shape[1], size = rows * cols;
            int ao = rnd.nextInt(4), bo = rnd.nextInt(4);
            float[] a = random(ao + size, rnd), b = random(bo + size, rnd);
            String where = species + " [" + rows + ", " + cols + "]";

            float[] norms = new float[rows + 1], normsRef = new float[rows + 1];
            ops.rowSumSquares(a, ao, rows, cols, norms);
            VecOpsScalar.rowSumSquares(a, ao, rows, cols, normsRef);
            for (int r = 0; r < rows; r++) close(norms[r], normsRef[r], 1e-5 * normsRef[r], "rowSumSquares " + where);
            assertThat(norms[rows]).isZero();

            float[] dots = new float[rows], dotsRef = new float[rows], bounds = new float[rows];
            ops.rowDots(a, ao, b, bo, rows, cols, dots);
            VecOpsScalar.rowDots(a, ao, b, bo, rows, cols, dotsRef);
            VecOpsScalar.rowDots(abs(a), ao, abs(b), bo, rows, cols, bounds);
            for (int r = 0; r < rows; r++) close(dots[r], dotsRef[r], 1e-5 * bounds[r], "rowDots " + where);

            // columns in blocks of four vectors, then single vectors, then single columns: the bits of row-by-row mulAdd
            float[] cols0 = random(cols, rnd), colSums = cols0.clone(), colSumsRef = cols0.clone();
            ops.columnMulAdd(a, ao, b, bo, rows, cols, colSums);
            VecOpsScalar.columnMulAdd(a, ao, b, bo, rows, cols, colSumsRef);
            assertThat(colSums).as("columnMulAdd " + where).containsExactly(colSumsRef);

            float[] x = a.clone(), xRef = a.clone();
            for (int i = ao; i < x.length; i++) xRef[i] = x[i] = x[i] * 20;
            ops.softmaxRows(x, ao, rows, cols);
            VecOpsScalar.softmaxRows(xRef, ao, rows, cols);
            for (int i = 0; i < x.length; i++) {
                close(x[i], xRef[i], 2e-6 * Math.abs(xRef[i]) + 1e-9, "softmax " + where);
            }
        }
    }

    @Test
    void softmaxIsStableForLargeInputsAndKeepsInfinities() {
        float[] x = {1000f, 1000f, Float.NEGATIVE_INFINITY, 999f, -5f};
        VecOps.softmaxRows(x, 0, 1, 5);
        double e = Math.exp(-1);
        assertThat(x[0]).isCloseTo((float) (1 / (2 + e + Math.exp(-1005))), offset(1e-6f));
        assertThat(x[2]).isZero();
        assertThat(x[0] + x[1] + x[3] + x[4]).isCloseTo(1f, offset(1e-6f));
    }

    @Test
    void staticMethodsUseThePreferredSpecies() {
        assertThat(VecOps.preferred().species()).isEqualTo(FloatVector.SPECIES_PREFERRED);
        assertThat(VecOps.using(FloatVector.SPECIES_PREFERRED)).isSameAs(VecOps.preferred());
        float[] a = {1, 2, 3}, b = {4, 5, 6};
        assertThat(VecOps.dot(a, 0, b, 0, 3)).isEqualTo(32f);
        assertThat(VecOps.sumSquares(a, 1, 2)).isEqualTo(13f);
    }

    @Test
    void rejectsRangesOutsideTheArrays() {
        float[] a = new float[4];
        assertThatThrownBy(() -> VecOps.dot(a, 1, a, 0, 4)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> VecOps.rowSumSquares(a, 0, 2, 2, new float[1]))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> VecOps.softmaxRows(a, 1, 2, 2)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> VecOps.columnMulAdd(a, 1, a, 0, 2, 2, new float[2]))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> VecOps.columnMulAdd(a, 0, a, 0, 2, 2, new float[1]))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    private static void close(double actual, double expected, double tol, String what) {
        if (!(Math.abs(actual - expected) <= tol + 1e-30)) {
            fail("%s: %s, expected %s within %s", what, actual, expected, tol);
        }
    }

    private static float[] random(int size, SplittableRandom rnd) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static float[] abs(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Math.abs(a[i]);
        return out;
    }
}
