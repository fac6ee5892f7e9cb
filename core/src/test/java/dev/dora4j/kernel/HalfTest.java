package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfTest {
    /** bf16 rounding of a finite float, computed exactly: the nearer of the two neighbours, ties to the even one. */
    private static short referenceBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = bits & 0x8000_0000;
        int mag = bits & 0x7fff_ffff;
        int down = mag >>> 16, up = down + 1;
        BigDecimal value = new BigDecimal(Float.intBitsToFloat(mag));
        BigDecimal low = new BigDecimal(Float.intBitsToFloat(down << 16));
        BigDecimal high = up == 0x7f80
                ? BigDecimal.valueOf(2).pow(128)
                : new BigDecimal(Float.intBitsToFloat(up << 16));
        int cmp = value.subtract(low).compareTo(high.subtract(value));
        int chosen = cmp < 0 ? down : cmp > 0 ? up : (down & 1) == 0 ? down : up;
        return (short) ((sign >>> 16) | chosen);
    }

    @Test
    void bf16RoundsToNearestLikeExactArithmetic() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(rnd.nextInt());
            if (!Float.isFinite(f)) continue;
            assertThat(Half.floatToBf16(f)).as("bits %08x", Float.floatToRawIntBits(f)).isEqualTo(referenceBf16(f));
        }
    }

    @Test
    void bf16TiesGoToEven() {
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f80_8000))).isEqualTo((short) 0x3f80);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f81_8000))).isEqualTo((short) 0x3f82);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f80_8001))).isEqualTo((short) 0x3f81);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f80_7fff))).isEqualTo((short) 0x3f80);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0xbf81_8000))).isEqualTo((short) 0xbf82);
        assertThat(Half.floatToBf16(1.0f)).isEqualTo((short) 0x3f80);
        assertThat(Half.floatToBf16(-2.0f)).isEqualTo((short) 0xc000);
    }

    @Test
    void bf16KeepsSpecialValues() {
        assertThat(Half.floatToBf16(Float.POSITIVE_INFINITY)).isEqualTo((short) 0x7f80);
        assertThat(Half.floatToBf16(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xff80);
        assertThat(Half.floatToBf16(0f)).isEqualTo((short) 0);
        assertThat(Half.floatToBf16(-0f)).isEqualTo((short) 0x8000);
        assertThat(Half.floatToBf16(Float.MAX_VALUE)).isEqualTo((short) 0x7f80);
        assertThat(Half.floatToBf16(-Float.MAX_VALUE)).isEqualTo((short) 0xff80);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x7f7f_7fff))).isEqualTo((short) 0x7f7f);
        for (int nan : new int[] {0x7fc0_0000, 0x7f80_0001, 0xff80_0001, 0x7fbf_ffff, 0x7f80_ffff}) {
            short h = Half.floatToBf16(Float.intBitsToFloat(nan));
            assertThat(Float.isNaN(Half.bf16ToFloat(h))).as("nan %08x", nan).isTrue();
            assertThat(h & 0x8000).isEqualTo((nan >>> 16) & 0x8000);
        }
    }

    @Test
    void bf16HandlesSubnormals() {
        assertThat(Half.floatToBf16(Float.MIN_VALUE)).isEqualTo((short) 0);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x0000_8000))).isEqualTo((short) 0);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x0000_8001))).isEqualTo((short) 1);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x0001_8000))).isEqualTo((short) 2);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x007f_ffff))).isEqualTo((short) 0x0080);
        assertThat(Half.bf16ToFloat((short) 1)).isEqualTo(Float.intBitsToFloat(0x0001_0000));
        for (int bits = 1; bits < 0x0080_0000; bits += 0x1357) {
            float f = Float.intBitsToFloat(bits);
            assertThat(Half.floatToBf16(f)).isEqualTo(referenceBf16(f));
        }
    }

    @Test
    void bf16ToFloatIsExactAndRoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.bf16ToFloat((short) h);
            assertThat(Float.floatToRawIntBits(f)).isEqualTo(h << 16);
            if (!Float.isNaN(f)) assertThat(Half.floatToBf16(f)).isEqualTo((short) h);
        }
    }

    @Test
    void f16MatchesKnownBitPatterns() {
        assertThat(Half.floatToF16(1.0f)).isEqualTo((short) 0x3c00);
        assertThat(Half.floatToF16(-2.0f)).isEqualTo((short) 0xc000);
        assertThat(Half.floatToF16(65504f)).isEqualTo((short) 0x7bff);
        assertThat(Half.floatToF16(65520f)).isEqualTo((short) 0x7c00);
        assertThat(Half.floatToF16(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xfc00);
        assertThat(Half.floatToF16(5.9604645e-8f)).isEqualTo((short) 0x0001);
        assertThat(Half.floatToF16(2.9802322e-8f)).isEqualTo((short) 0x0000);
        assertThat(Half.floatToF16(1.0009766f)).isEqualTo((short) 0x3c01);
        assertThat(Half.floatToF16(1.00048828125f)).isEqualTo((short) 0x3c00);
        assertThat(Half.floatToF16(1.00146484375f)).isEqualTo((short) 0x3c02);
        assertThat(Float.isNaN(Half.f16ToFloat(Half.floatToF16(Float.NaN)))).isTrue();
        assertThat(Half.f16ToFloat((short) 0x0001)).isEqualTo(5.9604645e-8f);
        assertThat(Half.f16ToFloat((short) 0x7bff)).isEqualTo(65504f);
        for (int h = 0; h < 0x10000; h++) {
            float f = Half.f16ToFloat((short) h);
            if (!Float.isNaN(f)) assertThat(Half.floatToF16(f)).isEqualTo((short) h);
        }
    }

    @Test
    void arrayFormsMatchSingleValues() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] src = new float[1000];
        for (int i = 0; i < src.length; i++) src[i] = (float) (rnd.nextGaussian() * 100);
        short[] bf = new short[1003], f16 = new short[1003];
        Half.floatToBf16(src, 1, bf, 3, 999);
        Half.floatToF16(src, 1, f16, 3, 999);
        float[] back = new float[1001], back16 = new float[1001];
        Half.bf16ToFloat(bf, 3, back, 2, 999);
        Half.f16ToFloat(f16, 3, back16, 2, 999);
        for (int i = 0; i < 999; i++) {
            assertThat(bf[3 + i]).isEqualTo(Half.floatToBf16(src[1 + i]));
            assertThat(f16[3 + i]).isEqualTo(Half.floatToF16(src[1 + i]));
            assertThat(back[2 + i]).isEqualTo(Half.bf16ToFloat(bf[3 + i]));
            assertThat(back16[2 + i]).isEqualTo(Half.f16ToFloat(f16[3 + i]));
        }
        assertThat(bf[0]).isZero();
        assertThat(back[0]).isZero();
    }
}
