package dev.dora4j.kernel;

import java.util.List;
import java.util.Objects;

/**
 * A matrix in bitsandbytes' 4-bit format (NF4 or FP4, as {@code Params4bit} holds it): the weight flattened row-major
 * and cut into blocks of {@link #blockSize()} values, each block scaled by its absmax into [-1, 1] and rounded to one
 * of 16 codes; two codes a byte, the first value in the high nibble. With double quantisation
 * ({@code bnb_4bit_use_double_quant}) the absmax values are themselves stored as 8-bit codes of the signed dynamic
 * map, in blocks of 256, after subtracting their mean ({@code nested_offset}).
 *
 * <p>W[i] = table[code(i)] · absmax[i / blockSize] in float, as {@code kDequantizeBlockwise} computes it; a nested
 * absmax is {@code map[q] · nestedAbsmax[b / 256] + offset}, as {@code dequantize_4bit} does.
 */
public final class FourBitMatrix implements WeightMatrix {
    /** The block sizes bitsandbytes' {@code quantize_4bit} accepts. */
    public static final List<Integer> BLOCK_SIZES = List.of(32, 64, 128, 256, 512, 1024, 2048, 4096);
    /** Absmax values per block of the double quantisation. */
    public static final int NESTED_BLOCK_SIZE = 256;

    private final WeightStorage type;
    private final int rows, cols, blockSize, blockShift;
    private final byte[] packed;
    private final float[] absmax;
    private final Nested nested;
    /** For each byte value, the table values of its high and low nibble. */
    private final float[] pairs;
    private final float[] table;

    /**
     * The absmax values of a double-quantised matrix.
     *
     * @param codes  one 8-bit code of {@code map} per block of the 4-bit values
     * @param absmax one float per {@value #NESTED_BLOCK_SIZE} codes
     * @param offset the mean subtracted before quantising
     * @param map    the 256-value code (bitsandbytes' dynamic map)
     */
    public record Nested(byte[] codes, float[] absmax, float offset, float[] map) {
        public Nested {
            if (map.length != 256) throw new IllegalArgumentException("nested map has " + map.length + " values, not 256");
            long want = (codes.length + NESTED_BLOCK_SIZE - 1) / NESTED_BLOCK_SIZE;
            if (absmax.length != want) {
                throw new IllegalArgumentException("nested absmax has " + absmax.length + " values for " + codes.length
                        + " block codes (want " + want + ")");
            }
        }

        float blockAbsmax(int b) {
            float a = map[codes[b] & 0xff] * absmax[b / NESTED_BLOCK_SIZE];
            return a + offset;
        }
    }

    /**
     * @param packed (rows·cols + 1) / 2 bytes of codes
     * @param absmax one float per block, or null when {@code nested} holds them
     */
    public FourBitMatrix(WeightStorage type, int rows, int cols, int blockSize, byte[] packed, float[] absmax,
                         Nested nested) {
        if (type != WeightStorage.NF4 && type != WeightStorage.FP4) {
            throw new IllegalArgumentException(type + " is not a 4-bit type (nf4, fp4)");
        }
        if (rows < 0 || cols < 0) throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        if (!BLOCK_SIZES.contains(blockSize)) {
            throw new IllegalArgumentException("block size " + blockSize + " is not one bitsandbytes allows " + BLOCK_SIZES);
        }
        long n = (long) rows * cols;
        if (packed.length != (n + 1) / 2) {
            throw new IllegalArgumentException(packed.length + " packed bytes for a [" + rows + ", " + cols + "] matrix (want "
                    + (n + 1) / 2 + ")");
        }
        long blocks = (n + blockSize - 1) / blockSize;
        if ((absmax == null) == (nested == null)) throw new IllegalArgumentException("give either absmax or nested absmax");
        long have = absmax != null ? absmax.length : nested.codes().length;
        if (have != blocks) {
            throw new IllegalArgumentException(have + " absmax values for " + n + " values in blocks of " + blockSize
                    + " (want " + blocks + ")");
        }
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.packed = packed;
        this.absmax = absmax;
        this.nested = nested;
        this.table = QuantCodes.table(type);
        this.pairs = new float[512];
        for (int v = 0; v < 256; v++) {
            pairs[2 * v] = table[v >>> 4];
            pairs[2 * v + 1] = table[v & 15];
        }
    }

    /**
     * values: [rows, cols] quantised as bitsandbytes' {@code quantize_4bit} (CUDA kernel {@code kQuantizeBlockwise}):
     * absmax = max |x| of each block, codes of x · (1 / absmax); with {@code doubleQuant} the absmax values as
     * {@code compress_statistics=True} stores them.
     */
    public static FourBitMatrix quantize(float[] values, int rows, int cols, WeightStorage type, int blockSize,
                                         boolean doubleQuant) {
        if (values.length != (long) rows * cols) {
            throw new IllegalArgumentException(values.length + " values for a [" + rows + ", " + cols + "] matrix");
        }
        if (!BLOCK_SIZES.contains(blockSize)) {
            throw new IllegalArgumentException("block size " + blockSize + " is not one bitsandbytes allows " + BLOCK_SIZES);
        }
        boolean nf4 = type == WeightStorage.NF4;
        int n = values.length;
        int blocks = (n + blockSize - 1) / blockSize;
        byte[] packed = new byte[(n + 1) / 2];
        float[] absmax = new float[blocks];
        Parallel.range(blocks, Math.max(1, 16384 / blockSize), (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                int start = b * blockSize, end = Math.min(n, start + blockSize);
                float max = 0f;
                for (int i = start; i < end; i++) max = Math.max(max, Math.abs(values[i]));
                absmax[b] = max;
                float inv = 1.0f / max;
                // a pair past the end is completed with a padded 0, scaled like its block
                for (int i = start; i < end; i += 2) {
                    float hi = values[i] * inv, lo = (i + 1 < end ? values[i + 1] : 0f) * inv;
                    int code = nf4 ? QuantCodes.quantizeNf4(hi) << 4 | QuantCodes.quantizeNf4(lo)
                            : QuantCodes.quantizeFp4(hi) << 4 | QuantCodes.quantizeFp4(lo);
                    packed[i >> 1] = (byte) code;
                }
            }
        });
        return new FourBitMatrix(type, rows, cols, blockSize, packed, doubleQuant ? null : absmax,
                doubleQuant ? nest(absmax) : null);
    }

    /** compress_statistics: offset = mean(absmax), then quantize_blockwise(absmax − offset, blocksize=256). */
    static Nested nest(float[] absmax) {
        double sum = 0, compensation = 0;   // Neumaier: the mean as exactly as a double holds it
        for (float a : absmax) {
            double t = sum + a;
            compensation += Math.abs(sum) >= Math.abs(a) ? (sum - t) + a : (a - t) + sum;
            sum = t;
        }
        float offset = (float) ((sum + compensation) / absmax.length);
        float[] map = QuantCodes.dynamicMap();
        int blocks = (absmax.length + NESTED_BLOCK_SIZE - 1) / NESTED_BLOCK_SIZE;
        byte[] codes = new byte[absmax.length];
        float[] nestedAbsmax = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            int start = b * NESTED_BLOCK_SIZE, end = Math.min(absmax.length, start + NESTED_BLOCK_SIZE);
            float max = 0f;
            for (int i = start; i < end; i++) max = Math.max(max, Math.abs(absmax[i] - offset));
            nestedAbsmax[b] = max;
            float inv = 1.0f / max;
            for (int i = start; i < end; i++) codes[i] = (byte) QuantCodes.quantizeDynamic(map, (absmax[i] - offset) * inv);
        }
        return new Nested(codes, nestedAbsmax, offset, map);
    }

    /** NF4 or FP4. */
    @Override
    public WeightStorage storage() {
        return type;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public int blockSize() {
        return blockSize;
    }

    /** The packed codes (not copied; do not modify). */
    public byte[] packed() {
        return packed;
    }

    /** The float absmax per block (not copied), or null when the matrix is double-quantised. */
    public float[] absmax() {
        return absmax;
    }

    /** The double-quantised absmax values, or null. */
    public Nested nested() {
        return nested;
    }

    /** The absmax block {@code b} is scaled by, widened from its nested code when double-quantised. */
    public float blockAbsmax(int b) {
        return absmax != null ? absmax[b] : nested.blockAbsmax(b);
    }

    public int blocks() {
        return absmax != null ? absmax.length : nested.codes().length;
    }

    @Override
    public long bytes() {
        long scales = absmax != null ? 4L * absmax.length
                : nested.codes().length + 4L * nested.absmax().length + 4L * nested.map().length + 4;
        return packed.length + scales;
    }

    @Override
    public void dequantizeRow(int row, int col0, int n, float scale, float[] dst, int dOff) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, n, cols);
        Objects.checkFromIndexSize(dOff, n, dst.length);
        int f = row * cols + col0, end = f + n, d = dOff;
        while (f < end) {
            int b = f >>> blockShift;
            int blockEnd = Math.min(end, (b + 1) << blockShift);
            float s = blockAbsmax(b);
            if ((f & 1) != 0) {
                dst[d++] = table[packed[f >> 1] & 15] * s * scale;
                f++;
            }
            for (; f + 1 < blockEnd; f += 2, d += 2) {
                int v = (packed[f >> 1] & 0xff) << 1;
                dst[d] = pairs[v] * s * scale;
                dst[d + 1] = pairs[v + 1] * s * scale;
            }
            if (f < blockEnd) {
                dst[d++] = table[(packed[f >> 1] >> 4) & 15] * s * scale;
                f++;
            }
        }
    }

    /** The values quantised again in this matrix's type, block size and (when nested) double quantisation. */
    @Override
    public FourBitMatrix encode(float[] values) {
        return quantize(values, rows, cols, type, blockSize, nested != null);
    }
}
