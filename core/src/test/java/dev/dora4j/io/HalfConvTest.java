package dev.dora4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfConvTest {

    @Test
    void bf16RoundsToNearestEven() {
        float one = 1.0f;
        int bits = Float.floatToRawIntBits(one);
        float halfwayDown = Float.intBitsToFloat(bits | 0x8000);
        float halfwayUp = Float.intBitsToFloat((bits + 0x10000) | 0x8000);
        float justAbove = Float.intBitsToFloat(bits | 0x8001);
        assertThat(HalfConv.floatToBf16(halfwayDown)).isEqualTo((short) 0x3F80);
        assertThat(HalfConv.floatToBf16(halfwayUp)).isEqualTo((short) 0x3F82);
        assertThat(HalfConv.floatToBf16(justAbove)).isEqualTo((short) 0x3F81);
        assertThat(HalfConv.floatToBf16(-2.0f)).isEqualTo((short) 0xC000);
    }

    @Test
    void bf16KeepsSpecialValues() {
        assertThat(Float.isNaN(HalfConv.bf16ToFloat(HalfConv.floatToBf16(Float.NaN)))).isTrue();
        float nanWithLowPayloadOnly = Float.intBitsToFloat(0x7F800001);
        assertThat(Float.isNaN(HalfConv.bf16ToFloat(HalfConv.floatToBf16(nanWithLowPayloadOnly)))).isTrue();
        assertThat(HalfConv.bf16ToFloat(HalfConv.floatToBf16(Float.POSITIVE_INFINITY)))
                .isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(HalfConv.bf16ToFloat(HalfConv.floatToBf16(Float.MAX_VALUE))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(HalfConv.bf16ToFloat(HalfConv.floatToBf16(-0.0f))).isEqualTo(-0.0f);
    }

    @Test
    void f16RoundTripsRepresentableValues() {
        for (float value : new float[] {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-5f, 5.9604645e-8f}) {
            assertThat(HalfConv.f16ToFloat(HalfConv.floatToF16(value))).isEqualTo(value);
        }
        assertThat(HalfConv.floatToF16(1.0f)).isEqualTo((short) 0x3C00);
        assertThat(HalfConv.f16ToFloat(HalfConv.floatToF16(1e6f))).isEqualTo(Float.POSITIVE_INFINITY);
    }
}
