package dev.dora4j.kernel;

import java.util.Objects;

/**
 * A matrix in bitsandbytes' row-wise int8 format, as {@code Linear8bitLt} stores it: per output row
 * {@code SCB = max |W_row|} and {@code CB = round(W · 127 / SCB)} as int8 (weight-only: activations stay float).
 * W = (CB · SCB) · (1/127) in float, as {@code int8_vectorwise_dequant} (and so PEFT's {@code dequantize_bnb_weight})
 * computes it.
 */
public final class Int8Matrix implements WeightMatrix {
    /** bitsandbytes' 1/127 ({@code 7.874015718698502e-3}) as a float. */
    static final float INV_127 = 7.874015718698502e-3f;

    private final byte[] codes;
    private final float[] scb;
    private final int rows, cols;

    /**
     * @param codes CB: [rows, cols] int8 codes (not copied)
     * @param scb   SCB: [rows] the absmax of each row (not copied)
     */
    public Int8Matrix(byte[] codes, float[] scb, int rows, int cols) {
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        if (codes.length != (long) rows * cols) {
            throw new IllegalArgumentException(codes.length + " codes for a [" + rows + ", " + cols + "] matrix");
        }
        if (scb.length != rows) throw new IllegalArgumentException(scb.length + " row scales (SCB) for " + rows + " rows");
        this.codes = codes;
        this.scb = scb;
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * values: [rows, cols] quantised as {@code Int8Params._quantize} does: rounded to float16 first, then per row
     * SCB = max |w| and CB = round-half-even(w · (127 / SCB)) ({@code int8_vectorwise_quant}); a zero row gets SCB 0
     * and codes 0. Values beyond float16's range cannot be stored.
     */
    public static Int8Matrix quantize(float[] values, int rows, int cols) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(values.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
        byte[] codes = new byte[values.length];
        float[] scb = new float[rows];
        Parallel.range(rows, Math.max(1, 65536 / Math.max(1, cols)), (r0, r1) -> {
            float[] row = new float[cols];
            for (int r = r0; r < r1; r++) {
                float max = 0f;
                for (int i = 0; i < cols; i++) {
                    float v = Float.float16ToFloat(Float.floatToFloat16(values[r * cols + i]));
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException("value " + values[r * cols + i] + " at [" + r + ", " + i
                                + "] is beyond float16's range, which int8 quantisation starts from");
                    }
                    row[i] = v;
                    max = Math.max(max, Math.abs(v));
                }
                scb[r] = max;
                if (max == 0f) continue;
                float scale = 127.0f / max;
                for (int i = 0; i < cols; i++) codes[r * cols + i] = (byte) Math.rint(row[i] * scale);
            }
        });
        return new Int8Matrix(codes, scb, rows, cols);
    }

    @Override
    public WeightStorage storage() {
        return WeightStorage.INT8;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    /** CB (not copied; do not modify). */
    public byte[] codes() {
        return codes;
    }

    /** SCB (not copied; do not modify). */
    public float[] scb() {
        return scb;
    }

    @Override
    public long bytes() {
        return codes.length + 4L * scb.length;
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, n, cols);
        Objects.checkFromIndexSize(dOff, n, dst.length);
        float s = scb[row];
        int base = row * cols + col0;
        for (int i = 0; i < n; i++) dst[dOff + i] = (codes[base + i] * s) * INV_127 * scale;
    }

    /** The values quantised again row-wise. */
    @Override
    public Int8Matrix encode(float[] values) {
        return quantize(values, rows, cols);
    }
}
