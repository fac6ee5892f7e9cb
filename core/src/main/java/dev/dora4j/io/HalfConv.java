package dev.dora4j.io;

/** Conversions between float and the 16-bit storage formats bf16 and IEEE f16, as raw bit patterns. */
final class HalfConv {
    private HalfConv() {
    }

    /** Narrows to bf16 with round-to-nearest-even; NaN stays NaN (quieted, sign kept). */
    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** Narrows to IEEE binary16 with round-to-nearest-even. */
    static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    static float f16ToFloat(short f16) {
        return Float.float16ToFloat(f16);
    }
}
