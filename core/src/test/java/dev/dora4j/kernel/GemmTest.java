package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class GemmTest {
    private static final int DEFAULT_THREADS = Parallel.threads();

    enum Layout { X_WT, G_W, G_TX }

    /** (m, k, n): odd sizes, edges of the micro-tile and the blocks, and products big enough to go parallel. */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {2, 7, 17}, {7, 2, 1}, {17, 63, 7}, {3, 257, 17}, {64, 64, 64}, {65, 63, 65}, {63, 65, 64},
        {5, 129, 33}, {6, 17, 200}, {13, 16, 257}, {257, 17, 16}, {257, 64, 65}, {65, 257, 63}, {1, 257, 257},
        {4, 300, 130}, {100, 1, 70}, {31, 0, 9}, {130, 257, 200}, {32, 65, 70}, {33, 70, 65},
        // few rows against whole vectors of columns: B read in place (weight gradients of rank-r adapters)
        {16, 128, 300}, {300, 128, 16}, {5, 48, 257}, {257, 80, 64}, {65, 64, 33},
    };

    /** Shapes whose depth exceeds the packed-panel budget, so the product runs in several column blocks. */
    private static final int[][] DEEP = {{7, 4097, 300}, {7, 300, 4097}, {4097, 300, 7}};

    /**
     * Contractions deeper than the rows of B packed at a time at every width (GemmSimd.deepDepth: 7680 rows at 16
     * lanes, 32768 at 4), so the product adds several packed blocks into C: (m, k, n) per layout, its depth k, n and m
     * respectively.
     */
    private static final int[][] DEEPER = {{13, 40001, 70}, {13, 33001, 300}, {7, 70, 40001}, {70, 13, 33001},
        {40001, 70, 13}};

    /**
     * x·Wᵀ computed as (W·xᵀ)ᵀ: more than 32 and at most 256 rows of x, a depth of at least one KC block at every
     * width (up to 1024) and at least 288 rows of W; odd sizes at every edge.
     */
    private static final int[][] SWAPPED = {{33, 1030, 300}, {70, 1100, 289}, {130, 1024, 301}, {65, 2050, 290}};

    /**
     * g·W computed as (Wᵀ·gᵀ)ᵀ, as (m, k, n) with g: [m, n], W: [n, k], n counted from one block of depth
     * (GemmSimd.depthBlock) at the width under test: more than 64 and at most 256 rows of g, a depth of at least one
     * such block and at least 288 columns of W; odd sizes at every edge.
     */
    private static final int[][] GW_SWAPPED = {{70, 289, 6}, {130, 301, 77}, {256, 288, 0}};

    /** Rows enough for every product to pack W: the reference the swapped products' bits are compared with. */
    private static final int PACKED_M = 260;

    @AfterAll
    static void restoreThreads() {
        Parallel.setThreads(DEFAULT_THREADS);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (VectorSpecies<Float> s : Species.all()) {
            for (int threads : new int[] {1, 2}) {
                for (Layout layout : Layout.values()) {
                    out.add(Arguments.of(s, threads, layout));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} threads={1} {2}")
    @MethodSource("cases")
    void matchesScalarTwin(VectorSpecies<Float> species, int threads, Layout layout) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 31L + threads * 7L + layout.ordinal());
        for (int[] shape : SHAPES) {
            for (boolean acc : new boolean[] {false, true}) check(kernel, layout, shape, acc, rnd);
        }
    }

    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void depthPastOnePackedBlockMatchesScalarTwin(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 41L + threads);
        for (boolean acc : new boolean[] {false, true}) {
            check(kernel, Layout.X_WT, DEEPER[0], acc, rnd);
            check(kernel, Layout.X_WT, DEEPER[1], acc, rnd);
            check(kernel, Layout.G_W, DEEPER[2], acc, rnd);
            check(kernel, Layout.G_W, DEEPER[3], acc, rnd);
            check(kernel, Layout.G_TX, DEEPER[4], acc, rnd);
        }
    }

    /** x·Wᵀ with a column scale and bias applied as it is stored (the swapped way too), against the scalar twin. */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void columnScaleAndBiasMatchScalarTwin(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 17L + threads);
        List<int[]> shapes = new ArrayList<>(List.of(SHAPES));
        shapes.add(DEEP[1]);
        shapes.add(DEEPER[0]);
        shapes.addAll(List.of(SWAPPED));
        for (int[] shape : shapes) {
            int m = shape[0], k = shape[1], n = shape[2];
            for (int variant = 0; variant < 4; variant++) {
                boolean acc = variant % 2 == 1;
                float[] cs = variant == 2 ? null : random(n + 2, rnd);
                float[] cb = variant == 1 ? null : random(n + 1, rnd);
                int xo = rnd.nextInt(3), wo = rnd.nextInt(3), yo = rnd.nextInt(3);
                float[] x = random(xo + m * k, rnd), w = random(wo + n * k, rnd), y = random(yo + m * n + 2, rnd);
                float[] expected = y.clone(), bound = abs(y);
                GemmScalar.xWt(x, xo, w, wo, expected, yo, m, k, n, acc, cs, cb);
                GemmScalar.xWt(abs(x), xo, abs(w), wo, bound, yo, m, k, n, acc, abs(cs), abs(cb));
                kernel.xWt(x, xo, w, wo, y, yo, m, k, n, acc, cs, cb);
                assertClose(y, expected, bound, yo, m * n,
                        "xWt m=" + m + " k=" + k + " n=" + n + " variant " + variant + " on " + species);
            }
        }
    }

    /**
     * The swapped product is the packed one's sums in the same order: the same bits as x·Wᵀ through packed panels of W,
     * which a product of more than 256 rows takes (each element's sum does not depend on the other rows), with a
     * column scale and bias, and with DoRA's extra rows A·Wᵀ on the same pass; for a float W, and for a 16-bit and a
     * 4-bit one (widened as their rows are copied, and as they are packed).
     */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void swappedProductsHaveThePackedProductsBits(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 23L + threads);
        int big = PACKED_M, r = 3;
        for (int[] shape : SWAPPED) {
            int m = shape[0], k = shape[1], n = shape[2];
            float[] w = random(n * k, rnd);
            for (WeightMatrix weight : List.of(new F32Matrix(w, n, k), Bf16Matrix.of(w, n, k),
                    FourBitMatrix.quantize(w, n, k, WeightStorage.NF4, 64, true))) {
                if (m <= 64 && !(weight instanceof F32Matrix)) continue; // fewer rows take dot products
                float[] xBig = random(big * k, rnd), a = random(r * k, rnd), cs = random(n, rnd), cb = random(n, rnd);
                String where = weight.storage() + " m=" + m + " k=" + k + " n=" + n + " on " + species;
                float[] packed = new float[big * n], y = new float[m * n];
                kernel.xWt(xBig, 0, weight, packed, 0, big, false, cs, cb);
                kernel.xWt(xBig, 0, weight, y, 0, m, false, cs, cb);
                assertThat(y).as("scaled and biased, " + where).containsExactly(Arrays.copyOf(packed, m * n));
                float[] packedA = new float[r * n], ay = new float[r * n];
                kernel.xWtShared(xBig, 0, big, a, 0, r, weight, packed, 0, packedA, 0);
                kernel.xWtShared(xBig, 0, m, a, 0, r, weight, y, 0, ay, 0);
                assertThat(y).as("x·Wᵀ with A·Wᵀ, " + where).containsExactly(Arrays.copyOf(packed, m * n));
                assertThat(ay).as("A·Wᵀ, " + where).containsExactly(packedA);
            }
        }
    }

    /** g·diag(s)·W with the row scale applied while W is packed, against the scalar twin. */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void rowScaleMatchesScalarTwin(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 13L + threads);
        List<int[]> shapes = new ArrayList<>(List.of(SHAPES));
        shapes.add(DEEP[0]);
        shapes.add(DEEPER[3]);
        for (int[] shape : shapes) {
            int m = shape[0], k = shape[1], n = shape[2];
            for (boolean acc : new boolean[] {false, true}) {
                float[] rs = random(n + 1, rnd);
                int go = rnd.nextInt(3), wo = rnd.nextInt(3), dxo = rnd.nextInt(3);
                float[] g = random(go + m * n, rnd), w = random(wo + n * k, rnd), dx = random(dxo + m * k + 1, rnd);
                float[] expected = dx.clone(), bound = abs(dx);
                GemmScalar.gW(g, go, w, wo, rs, expected, dxo, m, n, k, acc);
                GemmScalar.gW(abs(g), go, abs(w), wo, abs(rs), bound, dxo, m, n, k, acc);
                kernel.gW(g, go, w, wo, rs, dx, dxo, m, n, k, acc);
                assertClose(dx, expected, bound, dxo, m * k, "gW m=" + m + " k=" + k + " n=" + n + " acc=" + acc
                        + " on " + species);
            }
        }
    }

    /**
     * The swapped g·W against the scalar twin for a float W, without a row scale and overwriting, and with one and
     * adding; and for a float, 16-bit and 8-bit W against g·W through packed panels of W, which a product of more than
     * 256 rows takes (a 4-bit W always packs): the same sums in the same order, the same bits. A float W deeper than
     * the rows of W packed at a time at this width (GemmSimd.deepDepth) takes packed panels split by columns between
     * the threads at 65 rows as at 260: the same bits at both, and against the scalar twin where it splits (2
     * threads) at 8 lanes or more.
     */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("dev.dora4j.kernel.Species#withThreads")
    void swappedInputGradientsMatchScalarTwinAndPackedBits(VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(species.vectorBitSize() * 29L + threads);
        int kc = GemmSimd.depthBlock(species.length()), deepK = GemmSimd.deepDepth(species.length()), big = PACKED_M;
        List<int[]> shapes = new ArrayList<>();
        for (int[] shape : GW_SWAPPED) shapes.add(new int[] {shape[0], shape[1], kc + shape[2]});
        shapes.add(new int[] {65, 288, deepK + 77});
        for (int[] shape : shapes) {
            int m = shape[0], k = shape[1], n = shape[2];
            boolean deep = n > deepK;
            float[] gBig = random(big * n, rnd), w = random(n * k, rnd);
            // the deep product (a float W only) and its reference are the slowest here: two variants of it
            List<WeightMatrix> weights = deep ? List.of(new F32Matrix(w, n, k)) : List.of(new F32Matrix(w, n, k),
                    Bf16Matrix.of(w, n, k), Int8Matrix.quantize(w, n, k));
            for (int variant = deep ? 1 : 0; variant < 4; variant += deep ? 2 : 1) {
                boolean acc = variant % 2 == 1;
                float[] rs = variant < 2 ? null : random(n, rnd);
                float[] dx0 = random(big * k, rnd);
                for (WeightMatrix weight : weights) {
                    String where = weight.storage() + " gW m=" + m + " k=" + k + " n=" + n + " variant " + variant
                            + " on " + species;
                    float[] dx = Arrays.copyOf(dx0, m * k), packed = dx0.clone();
                    kernel.gW(gBig, 0, weight, rs, dx, 0, m, acc);
                    kernel.gW(gBig, 0, weight, rs, packed, 0, big, acc);
                    assertThat(dx).as(where).containsExactly(Arrays.copyOf(packed, m * k));
                    // the deep product's twin (as deep as 65,613 rows at 2 lanes) where its panels are split: 2
                    // threads, 8 lanes or more
                    boolean twin = !deep || threads > 1 && species.length() >= 8;
                    if (weight instanceof F32Matrix && twin && (variant == 0 || variant == 3)) {
                        float[] expected = Arrays.copyOf(dx0, m * k), bound = abs(expected);
                        GemmScalar.gW(gBig, 0, w, 0, rs, expected, 0, m, n, k, acc);
                        GemmScalar.gW(abs(gBig), 0, abs(w), 0, abs(rs), bound, 0, m, n, k, acc);
                        assertClose(dx, expected, bound, 0, m * k, where);
                    }
                }
            }
        }
    }

    @Test
    void scaledProductsOfKnownValues() {
        float[] x = {1, 2, 3, 4}, w = {1, 0, 0, 1, 1, 1}, y = {1, 1, 1, 1, 1, 1};
        // x·Wᵀ = [[1, 2, 3], [3, 4, 7]]; with acc, +1; times (2, 0, -1); plus (0.5, 0.5, 0.5)
        Gemm.xWt(x, 0, w, 0, y, 0, 2, 2, 3, true, new float[] {2, 0, -1}, new float[] {0.5f, 0.5f, 0.5f});
        assertThat(y).containsExactly(4.5f, 0.5f, -3.5f, 8.5f, 0.5f, -7.5f);
        // g·diag(1, 2, 3)·W with g = [[1, 1, 1]] and W = [[1, 0], [0, 1], [1, 1]]: [1 + 3, 2 + 3]
        float[] dx = new float[2];
        Gemm.gW(new float[] {1, 1, 1}, 0, w, 0, new float[] {1, 2, 3}, dx, 0, 1, 3, 2, false);
        assertThat(dx).containsExactly(4, 5);
        assertThatThrownBy(() -> Gemm.xWt(x, 0, w, 0, y, 0, 2, 2, 3, false, new float[2], null))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("colScale");
    }

    private static void assertClose(float[] actual, float[] expected, float[] bound, int off, int size, String where) {
        for (int i = 0; i < actual.length; i++) {
            boolean inside = i >= off && i < off + size;
            double tol = inside ? 1e-5 * bound[i] + 1e-30 : 0;
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                fail("%s: element %d is %s, expected %s within %s", where, i, actual[i], expected[i], tol);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layouts")
    void deepProductsSpanSeveralColumnBlocks(Layout layout) {
        Parallel.setThreads(2);
        SplittableRandom rnd = new SplittableRandom(99);
        for (int[] shape : DEEP) check(Gemm.preferred(), layout, shape, true, rnd);
    }

    static Stream<Layout> layouts() {
        return Stream.of(Layout.values());
    }

    @Test
    void staticMethodsUseThePreferredSpecies() {
        assertThat(Gemm.preferred().species()).isEqualTo(FloatVector.SPECIES_PREFERRED);
        assertThat(Gemm.using(FloatVector.SPECIES_PREFERRED)).isSameAs(Gemm.preferred());
        for (VectorSpecies<Float> s : Species.all()) {
            assertThat(Gemm.using(s).species()).isEqualTo(s);
            assertThat(Gemm.using(s)).isSameAs(Gemm.using(s));
        }
        float[] x = {1, 2, 3, 4}, w = {1, 0, 0, 1, 1, 1}, y = new float[6];
        Gemm.xWt(x, 0, w, 0, y, 0, 2, 2, 3, false);
        assertThat(y).containsExactly(1, 2, 3, 3, 4, 7);
        float[] dx = new float[4];
        Gemm.gW(y, 0, w, 0, dx, 0, 2, 3, 2, false);
        assertThat(dx).containsExactly(4, 5, 10, 11);
        float[] dw = new float[6];
        Gemm.gtX(y, 0, x, 0, dw, 0, 2, 3, 2, false);
        assertThat(dw).containsExactly(10, 14, 14, 20, 24, 34);
    }

    @Test
    void rejectsRegionsOutsideTheArrays() {
        float[] a = new float[6];
        assertThatThrownBy(() -> Gemm.xWt(a, 1, a, 0, a, 0, 2, 3, 2, false))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("x");
        assertThatThrownBy(() -> Gemm.gW(a, 0, a, 0, new float[5], 0, 2, 3, 3, false))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("w");
        assertThatThrownBy(() -> Gemm.gtX(a, 0, a, 0, a, 0, -1, 3, 2, false))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static void check(GemmKernel kernel, Layout layout, int[] shape, boolean acc, SplittableRandom rnd) {
        int m = shape[0], k = shape[1], n = shape[2];
        int[] in1 = switch (layout) { case X_WT -> new int[] {m, k}; case G_W, G_TX -> new int[] {m, n}; };
        int[] in2 = switch (layout) { case X_WT, G_W -> new int[] {n, k}; case G_TX -> new int[] {m, k}; };
        int[] out = switch (layout) {
            case X_WT -> new int[] {m, n};
            case G_W -> new int[] {m, k};
            case G_TX -> new int[] {n, k};
        };
        int o1 = rnd.nextInt(5), o2 = rnd.nextInt(5), o3 = rnd.nextInt(5);
        float[] a = random(o1 + in1[0] * in1[1] + 3, rnd), b = random(o2 + in2[0] * in2[1] + 3, rnd);
        float[] c = random(o3 + out[0] * out[1] + 3, rnd);
        float[] expected = c.clone(), bound = new float[c.length];
        float[] absA = abs(a), absB = abs(b);
        run(layout, GemmScalar::xWt, GemmScalar::gW, GemmScalar::gtX, a, o1, b, o2, expected, o3, m, k, n, acc);
        run(layout, GemmScalar::xWt, GemmScalar::gW, GemmScalar::gtX, absA, o1, absB, o2, bound, o3, m, k, n, false);
        run(layout, kernel::xWt, kernel::gW, kernel::gtX, a, o1, b, o2, c, o3, m, k, n, acc);
        String where = layout + " m=" + m + " k=" + k + " n=" + n + " acc=" + acc + " on " + kernel.species();
        for (int i = 0; i < c.length; i++) {
            boolean inside = i >= o3 && i < o3 + out[0] * out[1];
            double tol = inside ? 1e-5 * (bound[i] + (acc ? Math.abs(expected[i]) : 0)) + 1e-30 : 0;
            if (!(Math.abs(c[i] - expected[i]) <= tol)) {
                fail("%s: element %d is %s, expected %s within %s", where, i, c[i], expected[i], tol);
            }
        }
    }

    @FunctionalInterface
    interface Product {
        void apply(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, int d1, int d2, int d3, boolean acc);
    }

    private static void run(Layout layout, Product xWt, Product gW, Product gtX, float[] a, int aOff, float[] b,
                            int bOff, float[] c, int cOff, int m, int k, int n, boolean acc) {
        switch (layout) {
            case X_WT -> xWt.apply(a, aOff, b, bOff, c, cOff, m, k, n, acc);
            case G_W -> gW.apply(a, aOff, b, bOff, c, cOff, m, n, k, acc);
            case G_TX -> gtX.apply(a, aOff, b, bOff, c, cOff, m, n, k, acc);
        }
    }

    private static float[] random(int size, SplittableRandom rnd) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static float[] abs(float[] a) {
        if (a == null) return null;
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Math.abs(a[i]);
        return out;
    }
}
