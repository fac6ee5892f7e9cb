package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Stream;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every storage's products (x·Wᵀ with column scale and bias, g·diag(s)·W, W·Aᵀ, row norms) against the scalar
 * twin on the matrix its {@link WeightMatrix#dequantizeRow} defines, at every vector width, 1 and 2 threads and
 * odd shapes, including the few-row (decoding) path and depths past one packed column block.
 */
class WeightMatrixTest {
    private static final int DEFAULT_THREADS = Parallel.threads();

    /** (m, in, out): up to 16 rows decode in registers, up to 64 widen blocks of W's rows; the rest pack panels. */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {2, 7, 17}, {5, 129, 33}, {1, 257, 257}, {3, 64, 300}, {7, 2, 1}, {17, 63, 7}, {65, 63, 65},
        {13, 16, 257}, {130, 257, 200}, {31, 300, 9}, {6, 4097, 20}, {2, 256, 70}, {16, 256, 70}, {40, 130, 70},
        {64, 65, 33},
    };

    /** Deeper than the rows of W packed at a time at every vector width: x·Wᵀ and A·Wᵀ over in, g·W over out. */
    private static final int[][] DEEPER = {{70, 33001, 20}, {13, 33, 33001}};

    /** A storage under test: its name and how it encodes random floats of a [rows, cols] matrix. */
    record Storage(String name, Function<float[], Function<int[], WeightMatrix>> make) {
        WeightMatrix of(float[] values, int rows, int cols) {
            return make.apply(values).apply(new int[] {rows, cols});
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static List<Storage> storages() {
        return List.of(
                new Storage("F32", v -> s -> {
                    float[] padded = new float[v.length + 3];
                    System.arraycopy(v, 0, padded, 3, v.length);
                    return new F32Matrix(padded, 3, s[0], s[1]);
                }),
                new Storage("BF16", v -> s -> Bf16Matrix.of(v, s[0], s[1])),
                new Storage("F16", v -> s -> F16Matrix.of(v, s[0], s[1])),
                new Storage("INT8", v -> s -> Int8Matrix.quantize(v, s[0], s[1])),
                new Storage("NF4", v -> s -> FourBitMatrix.quantize(v, s[0], s[1], WeightStorage.NF4, 64, false)),
                new Storage("FP4 b32 double-quant",
                        v -> s -> FourBitMatrix.quantize(v, s[0], s[1], WeightStorage.FP4, 32, true)));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Storage storage : storages()) {
            for (VectorSpecies<Float> s : Species.all()) {
                for (int threads : new int[] {1, 2}) out.add(Arguments.of(storage, s, threads));
            }
        }
        return out.stream();
    }

    @AfterAll
    static void restoreThreads() {
        Parallel.setThreads(DEFAULT_THREADS);
    }

    @ParameterizedTest(name = "{0} {1} threads={2}")
    @MethodSource("cases")
    void productsMatchScalarTwin(Storage storage, VectorSpecies<Float> species, int threads) {
        Parallel.setThreads(threads);
        GemmKernel kernel = Gemm.using(species);
        SplittableRandom rnd = new SplittableRandom(storage.name().hashCode() * 31L + species.vectorBitSize() + threads);
        for (int[] shape : SHAPES) check(storage, kernel, shape, rnd);
    }

    /** Products whose depth spans several packed blocks, on the preferred species (the blocks do not depend on it). */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("storagesWithThreads")
    void deepProductsMatchScalarTwin(Storage storage, int threads) {
        Parallel.setThreads(threads);
        SplittableRandom rnd = new SplittableRandom(storage.name().hashCode() * 37L + threads);
        for (int[] shape : DEEPER) check(storage, Gemm.preferred(), shape, rnd);
    }

    /**
     * Products that take the swapped way at the preferred width (x·Wᵀ as (W·xᵀ)ᵀ, g·W as (Wᵀ·gᵀ)ᵀ: 65 to 256 rows,
     * both sides of W at least one KC block and 288), W's rows or columns widened into the micro-kernel's block.
     */
    @ParameterizedTest(name = "{0} threads={1}")
    @MethodSource("storagesWithThreads")
    void swappedProductsMatchScalarTwin(Storage storage, int threads) {
        Parallel.setThreads(threads);
        SplittableRandom rnd = new SplittableRandom(storage.name().hashCode() * 41L + threads);
        int lanes = Gemm.preferred().species().length();
        int side = Math.max(288, GemmSimd.depthBlock(lanes));
        for (int[] shape : new int[][] {{70, side + 7, side + 3}, {130, side + 2, side + 13}}) {
            check(storage, Gemm.preferred(), shape, rnd);
        }
    }

    static Stream<Arguments> storagesWithThreads() {
        return storages().stream().flatMap(s -> Stream.of(Arguments.of(s, 1), Arguments.of(s, 2)));
    }

    private static void check(Storage storage, GemmKernel kernel, int[] shape, SplittableRandom rnd) {
        int m = shape[0], in = shape[1], out = shape[2];
        WeightMatrix w = storage.of(random(out * in, rnd), out, in);
        float[] dense = w.toFloatArray();
        for (boolean acc : new boolean[] {false, true}) {
            float[] cs = rnd.nextBoolean() ? random(out, rnd) : null, cb = rnd.nextBoolean() ? random(out, rnd) : null;
            float[] x = random(2 + m * in, rnd), y = random(1 + m * out, rnd), expected = y.clone();
            kernel.xWt(x, 2, w, y, 1, m, acc, cs, cb);
            GemmScalar.xWt(x, 2, dense, 0, expected, 1, m, in, out, acc, cs, cb);
            assertClose(y, expected, bound(x, 2, dense, m, in, out, cs, cb, acc ? expected : null), storage + " x·Wᵀ " + str(shape));

            float[] rs = rnd.nextBoolean() ? random(out, rnd) : null;
            float[] g = random(m * out, rnd), dx = random(m * in, rnd), dxExpected = dx.clone();
            float[] dxBound = acc ? abs(dx) : new float[dx.length];
            kernel.gW(g, 0, w, rs, dx, 0, m, acc);
            GemmScalar.gW(g, 0, dense, 0, rs, dxExpected, 0, m, out, in, acc);
            // the scale of the sums: Σ|g·s·W| (plus |dx| when added into)
            GemmScalar.gW(abs(g), 0, abs(dense), 0, rs == null ? null : abs(rs), dxBound, 0, m, out, in, true);
            assertClose(dx, dxExpected, dxBound, storage + " g·W " + str(shape));
        }
        int r = 1 + rnd.nextInt(17);
        float[] a = random(1 + r * in, rnd), watExpected = new float[out * r];
        GemmScalar.xWt(dense, 0, a, 1, watExpected, 0, out, in, r, false);
        float[] watBound = new float[out * r];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < r; j++) {
                double b = 0;
                for (int i = 0; i < in; i++) b += Math.abs((double) dense[o * in + i] * a[1 + j * in + i]);
                watBound[o * r + j] = (float) b;
            }
        }

        // x·Wᵀ and A·Wᵀ from one pass over W: the first as x·Wᵀ alone, bit for bit; the second as the twin's W·Aᵀ
        float[] xs = random(1 + m * in, rnd), ys = random(2 + m * out, rnd), alone = ys.clone();
        float[] ay = random(3 + r * out, rnd);
        kernel.xWtShared(xs, 1, m, a, 1, r, w, ys, 2, ay, 3);
        kernel.xWt(xs, 1, w, alone, 2, m, false, null, null);
        assertSameBits(ys, alone, storage + " shared x·Wᵀ " + str(shape));
        float[] ayT = new float[out * r];
        for (int j = 0; j < r; j++) for (int o = 0; o < out; o++) ayT[o * r + j] = ay[3 + j * out + o];
        assertClose(ayT, watExpected, watBound, storage + " shared A·Wᵀ " + str(shape));
        // A·Wᵀ is the same bits whatever x is (DoRA's norm must not depend on the batch)
        float[] alone2 = ay.clone();
        java.util.Arrays.fill(alone2, 3, alone2.length, Float.NaN);
        kernel.xWtShared(new float[0], 0, 0, a, 1, r, w, new float[0], 0, alone2, 3);
        assertSameBits(ay, alone2, storage + " A·Wᵀ without x " + str(shape));

        double[] sq = w.rowSquaredNorms();
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += (double) dense[o * in + i] * dense[o * in + i];
            assertThat(sq[o]).as("%s row norm %d of %s", storage, o, str(shape)).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-9 * s + 1e-30));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("storages")
    void dequantizedRowsAreTheMatrixAndEncodeKeepsTheStorage(Storage storage) {
        SplittableRandom rnd = new SplittableRandom(7);
        int rows = 37, cols = 129;
        float[] values = random(rows * cols, rnd);
        WeightMatrix w = storage.of(values, rows, cols);
        assertThat(w.rows()).isEqualTo(rows);
        assertThat(w.cols()).isEqualTo(cols);
        float[] dense = w.toFloatArray();
        float[] piece = new float[12];
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(r, 5, 10, piece, 2);
            for (int i = 0; i < 10; i++) assertThat(piece[2 + i]).isEqualTo(dense[r * cols + 5 + i]);
        }
        // scaled in the same pass (DoRA's diag(s)·W as g·W packs it): the widened value times the scale, rounded once
        // more, over a stretch with whole vectors and a tail at every width
        float[] scaled = new float[3 + 117];
        for (int r = 0; r < rows; r++) {
            float scale = r == 0 ? 1f : (float) (0.37 * r - 3.1);
            w.dequantizeRow(r, 7, 117, scale, scaled, 3);
            for (int i = 0; i < 117; i++) {
                assertThat(scaled[3 + i]).as("%s row %d value %d times %s", storage, r, i, scale)
                        .isEqualTo(dense[r * cols + 7 + i] * scale);
            }
        }
        assertThatThrownBy(() -> w.dequantizeRow(0, 0, 2, 2f, piece, 11)).isInstanceOf(IndexOutOfBoundsException.class);
        WeightMatrix again = w.encode(dense);
        assertThat(again.storage()).isEqualTo(w.storage());
        float[] back = again.toFloatArray();
        // stored values are a fixed point of encode; a double-quantised absmax moves, so those values only nearly
        boolean nested = w instanceof FourBitMatrix f && f.nested() != null;
        for (int i = 0; i < dense.length; i++) {
            assertThat((double) back[i]).as("%s re-encoded value %d", storage, i)
                    .isCloseTo(dense[i], org.assertj.core.data.Offset.offset(nested ? 0.02 : 0.0));
        }
        long valueBytes = (long) rows * cols * w.storage().bits() / 8;
        if (w.storage().quantized()) {
            assertThat(w.bytes()).as("codes and scales").isBetween(valueBytes, valueBytes + valueBytes / 8 + 2048);
        } else {
            assertThat(w.bytes()).isEqualTo(valueBytes);
        }
        assertThatThrownBy(() -> w.dequantizeRow(rows, 0, 1, piece, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> w.dequantizeRow(0, cols - 1, 2, piece, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> w.encode(new float[3])).isInstanceOf(IllegalArgumentException.class);
    }

    static Stream<Storage> floatStorages() {
        return storages().stream().filter(s -> List.of("F32", "BF16", "F16").contains(s.name()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("floatStorages")
    void sixteenBitStoragesRoundToNearestEven(Storage storage) {
        float[] values = {1f, -2.5f, 1.0078125f, 3.14159265f, 65504f, 1e-8f};
        WeightMatrix w = storage.of(values, 2, 3);
        float[] got = w.toFloatArray();
        for (int i = 0; i < values.length; i++) {
            float expected = switch (storage.name()) {
                case "BF16" -> Half.bf16ToFloat(Half.floatToBf16(values[i]));
                case "F16" -> Half.f16ToFloat(Half.floatToF16(values[i]));
                default -> values[i];
            };
            assertThat(got[i]).as("%s value %d", storage, i).isEqualTo(expected);
        }
    }

    // |x|·|W|ᵀ (+ |y| when accumulating) scaled like the result: the size of the sum each element is made of
    private static float[] bound(float[] x, int xOff, float[] w, int m, int in, int out, float[] cs, float[] cb,
                                 float[] acc) {
        float[] b = new float[1 + m * out];
        for (int i = 0; i < m; i++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int p = 0; p < in; p++) s += Math.abs((double) x[xOff + i * in + p] * w[o * in + p]);
                if (acc != null) s += Math.abs(acc[1 + i * out + o]);
                if (cs != null) s *= Math.abs(cs[o]) + 1;
                if (cb != null) s += Math.abs(cb[o]);
                b[1 + i * out + o] = (float) s;
            }
        }
        return b;
    }

    private static void assertSameBits(float[] actual, float[] expected, String where) {
        for (int i = 0; i < actual.length; i++) {
            if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i])) {
                fail("%s: element %d is %s, expected %s", where, i, actual[i], expected[i]);
            }
        }
    }

    private static void assertClose(float[] actual, float[] expected, float[] bound, String where) {
        for (int i = 0; i < actual.length; i++) {
            double scale = bound != null ? bound[i] : Math.max(1, Math.abs(expected[i]));
            double tol = 1e-5 * scale + 1e-6;
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
                fail("%s: element %d is %s, expected %s within %s", where, i, actual[i], expected[i], tol);
            }
        }
    }

    private static float[] abs(float[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Math.abs(a[i]);
        return out;
    }

    private static float[] random(int size, SplittableRandom rnd) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static String str(int[] shape) {
        return java.util.Arrays.toString(shape);
    }
}
