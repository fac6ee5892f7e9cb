package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.io.SafetensorsFile;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * dora4j's quantisation against bitsandbytes' algorithms as tools/gen_bnb_fixtures.py ports them: the same codes,
 * absmax (plain and double-quantised) and SCB for the same float32 weights, and the same dequantised values, bit
 * for bit.
 */
class BnbCodesTest {
    private static SafetensorsFile codes;

    @BeforeAll
    static void open() throws Exception {
        codes = SafetensorsFile.open(Path.of(BnbCodesTest.class.getResource("/fixtures/bnb/codes.safetensors").toURI()));
    }

    @AfterAll
    static void close() {
        codes.close();
    }

    /** name:kind:RxC:blocksize:dq|plain. */
    static List<String> cases() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(Path.of(BnbCodesTest.class.getResource("/fixtures/bnb/codes.safetensors").toURI()))) {
            return List.of(f.metadata().get("cases").split(","));
        }
    }

    static byte[] bytes(SafetensorsFile f, String name) {
        return f.data(name).toArray(ValueLayout.JAVA_BYTE);
    }

    static void assertSameBits(float[] got, float[] want, String what) {
        assertThat(got).as(what).hasSize(want.length);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(want[i])) {
                throw new AssertionError(what + "[" + i + "]: " + got[i] + " but bitsandbytes gives " + want[i]);
            }
        }
    }

    @Test
    void codeTablesAreBitsandbytes() {
        assertSameBits(QuantCodes.dynamicMap(), codes.readFloats("dynamic_map"), "dynamic map");
        assertSameBits(QuantCodes.table(WeightStorage.NF4), codes.readFloats("nf4_map"), "nf4");
        assertSameBits(QuantCodes.table(WeightStorage.FP4), codes.readFloats("fp4_map"), "fp4");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void quantizeAndDequantizeMatchBitsandbytes(String spec) {
        String[] f = spec.split(":");
        String name = f[0], kind = f[1];
        int rows = Integer.parseInt(f[2].split("x")[0]), cols = Integer.parseInt(f[2].split("x")[1]);
        float[] w = codes.readFloats(name + ".w");
        float[] want = codes.readFloats(name + ".dequantized");
        WeightMatrix fromFile;
        if (kind.equals("int8")) {
            Int8Matrix q = Int8Matrix.quantize(w, rows, cols);
            assertThat(q.codes()).as("CB").isEqualTo(bytes(codes, name + ".weight"));
            assertSameBits(q.scb(), codes.readFloats(name + ".SCB"), "SCB");
            assertSameBits(q.toFloatArray(), want, "dequantised");
            fromFile = new Int8Matrix(bytes(codes, name + ".weight"), codes.readFloats(name + ".SCB"), rows, cols);
            assertThat(q.encode(q.toFloatArray()).codes()).as("requantised").isEqualTo(q.codes());
        } else {
            WeightStorage type = WeightStorage.valueOf(kind.toUpperCase());
            int blockSize = Integer.parseInt(f[3]);
            boolean dq = f[4].equals("dq");
            FourBitMatrix q = FourBitMatrix.quantize(w, rows, cols, type, blockSize, dq);
            assertThat(q.packed()).as("packed codes").isEqualTo(bytes(codes, name + ".weight"));
            if (dq) {
                assertThat(q.nested().codes()).as("absmax codes").isEqualTo(bytes(codes, name + ".absmax"));
                assertSameBits(q.nested().absmax(), codes.readFloats(name + ".nested_absmax"), "nested absmax");
                assertSameBits(new float[] {q.nested().offset()}, codes.readFloats(name + ".nested_offset"), "offset");
                fromFile = new FourBitMatrix(type, rows, cols, blockSize, bytes(codes, name + ".weight"), null,
                        new FourBitMatrix.Nested(bytes(codes, name + ".absmax"), codes.readFloats(name + ".nested_absmax"),
                                codes.readFloats(name + ".nested_offset")[0], codes.readFloats("dynamic_map")));
            } else {
                assertSameBits(q.absmax(), codes.readFloats(name + ".absmax"), "absmax");
                fromFile = new FourBitMatrix(type, rows, cols, blockSize, bytes(codes, name + ".weight"),
                        codes.readFloats(name + ".absmax"), null);
            }
            assertSameBits(q.toFloatArray(), want, "dequantised");
            // without double quantisation (whose absmax moves), requantising the dequantised values gives them back
            // (FP4 may turn a code of −0 into +0)
            float[] again = q.encode(q.toFloatArray()).toFloatArray(), once = q.toFloatArray();
            for (int i = 0; i < once.length && !dq; i++) assertThat(again[i] == once[i]).as("requantised [" + i + "]").isTrue();
        }
        assertSameBits(fromFile.toFloatArray(), want, "dequantised from the stored codes");
        // every stretch of every row, at odd starts and lengths, is the same as the whole row
        float[] row = new float[cols + 2];
        for (int r = 0; r < rows; r += 3) {
            for (int c0 = 0; c0 < cols; c0 += Math.max(1, cols / 7)) {
                int n = Math.min(cols - c0, 1 + (c0 * 7 + r) % (cols + 1));
                fromFile.dequantizeRow(r, c0, n, row, 1);
                assertSameBits(Arrays.copyOfRange(row, 1, 1 + n), Arrays.copyOfRange(want, r * cols + c0, r * cols + c0 + n),
                        name + " row " + r + " from " + c0);
            }
        }
    }

    @Test
    void badShapesAndBlockSizesAreRefused() {
        assertThatThrownBy(() -> FourBitMatrix.quantize(new float[12], 3, 4, WeightStorage.NF4, 48, false))
                .hasMessageContaining("block size 48");
        assertThatThrownBy(() -> new FourBitMatrix(WeightStorage.NF4, 3, 5, 64, new byte[7], new float[1], null))
                .hasMessageContaining("7 packed bytes").hasMessageContaining("want 8");
        assertThatThrownBy(() -> new FourBitMatrix(WeightStorage.FP4, 10, 10, 32, new byte[50], new float[3], null))
                .hasMessageContaining("3 absmax values").hasMessageContaining("want 4");
        assertThatThrownBy(() -> new Int8Matrix(new byte[6], new float[2], 3, 2)).hasMessageContaining("2 row scales");
        assertThatThrownBy(() -> Int8Matrix.quantize(new float[] {1f, 70000f}, 1, 2)).hasMessageContaining("float16");
    }
}
