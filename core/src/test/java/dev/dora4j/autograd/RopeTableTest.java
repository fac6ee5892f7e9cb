package dev.dora4j.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class RopeTableTest {
    /** HF _compute_default_rope_parameters: 1 / theta^(arange(0, dim, 2) / dim). */
    private static double[] defaultInvFreq(int dim, double theta) {
        double[] f = new double[dim / 2];
        for (int i = 0; i < f.length; i++) f[i] = 1.0 / Math.pow(theta, 2.0 * i / dim);
        return f;
    }

    /** HF _compute_llama3_parameters, written out element by element in double. */
    private static double[] llama3InvFreq(double[] invFreq, double factor, double lowFreqFactor, double highFreqFactor,
                                          int oldContextLen) {
        double lowFreqWavelen = oldContextLen / lowFreqFactor;
        double highFreqWavelen = oldContextLen / highFreqFactor;
        double[] out = new double[invFreq.length];
        for (int i = 0; i < invFreq.length; i++) {
            double wavelen = 2 * Math.PI / invFreq[i];
            double llama = wavelen > lowFreqWavelen ? invFreq[i] / factor : invFreq[i];
            double smoothFactor = (oldContextLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            double smoothed = (1 - smoothFactor) * llama / factor + smoothFactor * llama;
            boolean isMediumFreq = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            out[i] = isMediumFreq ? smoothed : llama;
        }
        return out;
    }

    private static void assertInvFreq(RopeTable table, double[] expected) {
        float[] actual = table.inverseFrequencies();
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("inv_freq[%d]", i).isCloseTo(expected[i], within(1e-6 * expected[i]));
        }
    }

    @Test
    void defaultFrequencies() {
        RopeTable table = RopeTable.create(64, 16, 10000, null);
        assertThat(table.headDim()).isEqualTo(64);
        assertThat(table.maxPositions()).isEqualTo(16);
        assertInvFreq(table, defaultInvFreq(64, 10000));
        RopeScaling none = new RopeScaling("default", 1, 1, 1, 0);
        assertInvFreq(RopeTable.create(6, 4, 500000, none), defaultInvFreq(6, 500000));
    }

    @Test
    void linearScalingDividesEveryFrequency() {
        double[] expected = defaultInvFreq(16, 10000);
        for (int i = 0; i < expected.length; i++) expected[i] /= 4;
        assertInvFreq(RopeTable.create(16, 8, 10000, RopeScaling.linear(4)), expected);
    }

    @Test
    void llama3ScalingMatchesHuggingFace() {
        // Llama 3.1 (factor 8) and Llama 3.2 (factor 32) settings; with head dim 64 and theta 500000 the
        // frequencies fall in all three bands
        for (double factor : new double[] {8, 32}) {
            double[] base = defaultInvFreq(64, 500000);
            double[] expected = llama3InvFreq(base, factor, 1, 4, 8192);
            int kept = 0, divided = 0, smoothed = 0;
            for (int i = 0; i < base.length; i++) {
                if (expected[i] == base[i]) kept++;
                else if (expected[i] == base[i] / factor) divided++;
                else smoothed++;
            }
            assertThat(kept).isPositive();
            assertThat(divided).isPositive();
            assertThat(smoothed).isPositive();
            assertInvFreq(RopeTable.create(64, 8, 500000, RopeScaling.llama3(factor, 1, 4, 8192)), expected);
        }
    }

    @Test
    void cosinesAndSinesOfPositionTimesFrequency() {
        RopeTable table = RopeTable.create(8, 64, 10000, RopeScaling.llama3(8, 1, 4, 32));
        float[] inv = table.inverseFrequencies();
        for (int p = 0; p < 64; p++) {
            for (int i = 0; i < 4; i++) {
                // HF takes cos/sin of the float32 product position · inv_freq
                float angle = inv[i] * (float) p;
                assertThat(table.cos(p, i)).isCloseTo((float) Math.cos(angle), within(2e-7f));
                assertThat(table.sin(p, i)).isCloseTo((float) Math.sin(angle), within(2e-7f));
                assertThat((double) table.cos(p, i)).isCloseTo(Math.cos(p * (double) inv[i]), within(1e-5));
            }
        }
        assertThat(table.cos(0, 3)).isEqualTo(1f);
        assertThat(table.sin(0, 3)).isEqualTo(0f);
    }

    @Test
    void positionsAreComputedAsFarAsUsedWithTheSameBits() {
        int max = 131072;
        RopeTable grown = RopeTable.create(64, max, 500000, RopeScaling.llama3(32, 1, 4, 8192));
        assertThat(grown.covering(1).positions()).as("made with the first positions only").isEqualTo(256);
        assertThat(grown.covering(300).positions()).as("grown to twice as far").isEqualTo(512);
        assertThat(grown.covering(5000).positions()).isEqualTo(5000);
        assertThat(grown.covering(max).positions()).isEqualTo(max);
        RopeTable direct = RopeTable.create(64, max, 500000, RopeScaling.llama3(32, 1, 4, 8192));
        assertThat(direct.cos(max - 1, 31)).isEqualTo(grown.cos(max - 1, 31));
        for (int p : new int[] {0, 1, 255, 256, 299, 511, 4999, 70000, max - 1}) {
            for (int i = 0; i < 32; i++) {
                assertThat(Float.floatToIntBits(direct.cos(p, i))).as("cos %d %d", p, i).isEqualTo(Float.floatToIntBits(grown.cos(p, i)));
                assertThat(Float.floatToIntBits(direct.sin(p, i))).as("sin %d %d", p, i).isEqualTo(Float.floatToIntBits(grown.sin(p, i)));
            }
        }
        // a small table keeps its bound
        assertThat(RopeTable.create(4, 8, 10000, null).covering(8).positions()).isEqualTo(8);
    }

    @Test
    void badArgumentsAreRejected() {
        assertThatThrownBy(() -> RopeTable.create(5, 8, 10000, null)).hasMessageContaining("even");
        assertThatThrownBy(() -> RopeTable.create(4, 0, 10000, null)).hasMessageContaining("max positions");
        assertThatThrownBy(() -> new RopeScaling("yarn", 2, 1, 1, 0)).hasMessageContaining("yarn");
        assertThatThrownBy(() -> RopeScaling.linear(0)).hasMessageContaining("factor");
        RopeTable table = RopeTable.create(4, 8, 10000, null);
        assertThatThrownBy(() -> table.cos(8, 0)).hasMessageContaining("position 8");
    }
}
