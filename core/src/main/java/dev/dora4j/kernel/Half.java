package dev.dora4j.kernel;

import java.util.Objects;

/**
 * Conversions between float and the two 16-bit float formats of model files: bfloat16 (the top half of a float,
 * rounded to nearest, ties to even) and IEEE binary16 (f16). Values travel as the raw bits in a {@code short}.
 * NaN stays NaN (a bf16 NaN keeps its sign and top payload bits and is made quiet); infinities and signed zeros are
 * kept; floats too large for bf16 round to infinity; f16 subnormals and bf16 subnormals are handled exactly.
 */
public final class Half {
    private Half() {}

    /** The bf16 nearest to {@code f} (ties to even), as raw bits. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fff_ffff) > 0x7f80_0000) return (short) ((bits >>> 16) | 0x0040);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The float with the value of the bf16 bits {@code h} (exact). */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** The f16 nearest to {@code f} (ties to even), as raw bits. */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** The float with the value of the f16 bits {@code h} (exact). */
    public static float f16ToFloat(short h) {
        return Float.float16ToFloat(h);
    }

    /** src: n floats at srcOff -> dst: n bf16 at dstOff. */
    public static void floatToBf16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(srcOff, n, src.length);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int i = 0; i < n; i++) dst[dstOff + i] = floatToBf16(src[srcOff + i]);
    }

    /** src: n bf16 at srcOff -> dst: n floats at dstOff. */
    public static void bf16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(srcOff, n, src.length);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int i = 0; i < n; i++) dst[dstOff + i] = bf16ToFloat(src[srcOff + i]);
    }

    /** src: n floats at srcOff -> dst: n f16 at dstOff. */
    public static void floatToF16(float[] src, int srcOff, short[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(srcOff, n, src.length);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int i = 0; i < n; i++) dst[dstOff + i] = Float.floatToFloat16(src[srcOff + i]);
    }

    /** src: n f16 at srcOff -> dst: n floats at dstOff. */
    public static void f16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
        Objects.checkFromIndexSize(srcOff, n, src.length);
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(src[srcOff + i]);
    }
}
