package dev.dora4j.kernel;

/**
 * bitsandbytes' code tables and the rounding of a scaled value to a code, exactly as its CUDA kernels
 * ({@code csrc/kernels.cu}: {@code dQuantizeNF4}, {@code dQuantizeFP4}, {@code dQuantize<0>}) and
 * {@code bitsandbytes/functional.py} ({@code get_4bit_type}, {@code create_dynamic_map}) define them. Every value
 * is a float and every comparison is on floats, so the codes equal bitsandbytes' bit for bit.
 */
public final class QuantCodes {
    /** {@code get_4bit_type("nf4")}: the 16 NormalFloat values, code 0 to 15. */
    private static final float[] NF4 = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
        0.7229568362236023f, 1.0f,
    };

    /** {@code get_4bit_type("fp4")}: sign bit 3, then {0, 0.0625, 8, 12, 4, 6, 2, 3} divided by 12 in float. */
    private static final float[] FP4 = fp4();

    /**
     * {@code create_dynamic_map(signed=True)}: the 256 sorted values of the signed 8-bit dynamic type, for exponent
     * i in 0..6 the means of neighbours in {@code torch.linspace(0.1, 1, 2^i + 1)} times ±10^(i − 6), then 0 and 1.
     * Listed as torch's float32 linspace computes them (its vectorised steps round differently from
     * start + i·step), so the table is written out rather than recomputed.
     */
    private static final float[] DYNAMIC = {
        -0.99296874f, -0.9789062f, -0.96484375f, -0.9507812f, -0.9367187f, -0.92265624f, -0.9085938f, -0.89453125f,
        -0.8804687f, -0.8664062f, -0.85234374f, -0.8382812f, -0.82421875f, -0.8101562f, -0.7960937f, -0.78203124f,
        -0.7679688f, -0.75390625f, -0.7398438f, -0.72578126f, -0.7117188f, -0.6976563f, -0.68359375f, -0.6695313f,
        -0.65546876f, -0.64140624f, -0.6273438f, -0.61328125f, -0.5992187f, -0.58515626f, -0.5710938f, -0.5570313f,
        -0.54296875f, -0.5289062f, -0.51484376f, -0.50078124f, -0.48671877f, -0.47265625f, -0.45859373f,
        -0.44453126f, -0.43046874f, -0.4164062f, -0.40234375f, -0.38828123f, -0.37421876f, -0.36015624f, -0.3460937f,
        -0.33203125f, -0.31796873f, -0.30390626f, -0.28984374f, -0.27578127f, -0.26171875f, -0.24765626f,
        -0.23359376f, -0.21953125f, -0.20546874f, -0.19140625f, -0.17734374f, -0.16328125f, -0.14921875f,
        -0.13515624f, -0.12109375f, -0.107031256f, -0.09859375f, -0.095781244f, -0.092968754f, -0.09015625f,
        -0.08734375f, -0.08453125f, -0.08171874f, -0.07890625f, -0.07609375f, -0.07328125f, -0.070468746f,
        -0.067656256f, -0.06484375f, -0.062031247f, -0.059218753f, -0.05640625f, -0.05359375f, -0.05078125f,
        -0.04796875f, -0.04515625f, -0.042343747f, -0.03953125f, -0.036718752f, -0.033906247f, -0.03109375f,
        -0.028281247f, -0.02546875f, -0.02265625f, -0.01984375f, -0.01703125f, -0.01421875f, -0.01140625f,
        -0.00971875f, -0.009156249f, -0.00859375f, -0.00803125f, -0.00746875f, -0.00690625f, -0.00634375f,
        -0.00578125f, -0.0052187503f, -0.0046562497f, -0.00409375f, -0.0035312497f, -0.00296875f, -0.00240625f,
        -0.00184375f, -0.0012812499f, -9.437501e-04f, -8.3125e-04f, -7.1875006e-04f, -6.062501e-04f, -4.9375003e-04f,
        -3.8125002e-04f, -2.6875004e-04f, -1.5625001e-04f, -8.875e-05f, -6.625e-05f, -4.375e-05f, -2.1249998e-05f,
        -7.75e-06f, -3.2500002e-06f, -5.5000004e-07f, 0f, 5.5000004e-07f, 3.2500002e-06f, 7.75e-06f, 2.1249998e-05f,
        4.375e-05f, 6.625e-05f, 8.875e-05f, 1.5625001e-04f, 2.6875004e-04f, 3.8125002e-04f, 4.9375003e-04f,
        6.062501e-04f, 7.1875006e-04f, 8.3125e-04f, 9.437501e-04f, 0.0012812499f, 0.00184375f, 0.00240625f,
        0.00296875f, 0.0035312497f, 0.00409375f, 0.0046562497f, 0.0052187503f, 0.00578125f, 0.00634375f, 0.00690625f,
        0.00746875f, 0.00803125f, 0.00859375f, 0.009156249f, 0.00971875f, 0.01140625f, 0.01421875f, 0.01703125f,
        0.01984375f, 0.02265625f, 0.02546875f, 0.028281247f, 0.03109375f, 0.033906247f, 0.036718752f, 0.03953125f,
        0.042343747f, 0.04515625f, 0.04796875f, 0.05078125f, 0.05359375f, 0.05640625f, 0.059218753f, 0.062031247f,
        0.06484375f, 0.067656256f, 0.070468746f, 0.07328125f, 0.07609375f, 0.07890625f, 0.08171874f, 0.08453125f,
        0.08734375f, 0.09015625f, 0.092968754f, 0.095781244f, 0.09859375f, 0.107031256f, 0.12109375f, 0.13515624f,
        0.14921875f, 0.16328125f, 0.17734374f, 0.19140625f, 0.20546874f, 0.21953125f, 0.23359376f, 0.24765626f,
        0.26171875f, 0.27578127f, 0.28984374f, 0.30390626f, 0.31796873f, 0.33203125f, 0.3460937f, 0.36015624f,
        0.37421876f, 0.38828123f, 0.40234375f, 0.4164062f, 0.43046874f, 0.44453126f, 0.45859373f, 0.47265625f,
        0.48671877f, 0.50078124f, 0.51484376f, 0.5289062f, 0.54296875f, 0.5570313f, 0.5710938f, 0.58515626f,
        0.5992187f, 0.61328125f, 0.6273438f, 0.64140624f, 0.65546876f, 0.6695313f, 0.68359375f, 0.6976563f,
        0.7117188f, 0.72578126f, 0.7398438f, 0.75390625f, 0.7679688f, 0.78203124f, 0.7960937f, 0.8101562f,
        0.82421875f, 0.8382812f, 0.85234374f, 0.8664062f, 0.8804687f, 0.89453125f, 0.9085938f, 0.92265624f,
        0.9367187f, 0.9507812f, 0.96484375f, 0.9789062f, 0.99296874f, 1f,
    };

    private QuantCodes() {}

    /** The 16 values of a 4-bit type (a copy). */
    public static float[] table(WeightStorage type) {
        return switch (type) {
            case NF4 -> NF4.clone();
            case FP4 -> FP4.clone();
            default -> throw new IllegalArgumentException(type + " is not a 4-bit type");
        };
    }

    /** The signed dynamic 8-bit map of double quantisation (a copy). */
    public static float[] dynamicMap() {
        return DYNAMIC.clone();
    }

    static float nf4(int code) {
        return NF4[code];
    }

    static float fp4(int code) {
        return FP4[code];
    }

    /** dQuantizeNF4: the decision tree over {@code x} (a value scaled into [-1, 1]; NaN gives code 0). */
    static int quantizeNf4(float x) {
        if (x > 0.03979014977812767f) {
            if (x > 0.3893125355243683f) {
                if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 0b1111 : 0b1110;
                return x > 0.5016634166240692f ? 0b1101 : 0b1100;
            }
            if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 0b1011 : 0b1010;
            return x > 0.1202552504837513f ? 0b1001 : 0b1000;
        }
        if (x > -0.33967943489551544f) {
            if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 0b0111 : 0b0110;
            return x > -0.23460740596055984f ? 0b0101 : 0b0100;
        }
        if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 0b0011 : 0b0010;
        return x > -0.8480964004993439f ? 0b0001 : 0b0000;
    }

    /** dQuantizeFP4: sign bit for x < 0, then the tree over |x| (pivots divided by the FP4 absmax 12). */
    static int quantizeFp4(float x) {
        int sign = x < 0 ? 0b1000 : 0;
        float a = Math.abs(x);
        int code;
        if (a > 0.29166667f) {
            if (a > 0.583333f) code = a > 0.8333333f ? 0b0011 : 0b0010;
            else code = a > 0.4166667f ? 0b0101 : 0b0100;
        } else if (a > 0.0859375f) {
            code = a > 0.20833333f ? 0b0111 : 0b0110;
        } else {
            code = a > 0.00260417f ? 0b0001 : 0b0000;
        }
        return code + sign;
    }

    /**
     * dQuantize&lt;0&gt;: the binary search over a sorted 256-value code from pivot 127 in steps 64 .. 1, then the
     * pivot or its bracketing neighbour, whichever the float midpoint puts {@code x} nearer to.
     */
    static int quantizeDynamic(float[] code, float x) {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1.0f, upper = 1.0f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) upper = code[upperPivot];
        if (lowerPivot == 0) lower = code[lowerPivot];
        if (x > val) return x > (upper + val) * 0.5f ? upperPivot : pivot;
        return x < (lower + val) * 0.5f ? lowerPivot : pivot;
    }

    private static float[] fp4() {
        float[] magnitudes = {0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f};
        float[] out = new float[16];
        for (int i = 0; i < 8; i++) {
            out[i] = magnitudes[i] / 12f;
            out[i + 8] = -magnitudes[i] / 12f;
        }
        return out;
    }
}
