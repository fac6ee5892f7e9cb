package dev.dora4j.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The transposing copies that pack x·Wᵀ's right-hand side, register blocks and element by element, against B(p, j). */
class GemmPackTest {
    /** (depth, cols, width): whole 16 × 16 blocks, partial ones on either side, a panel narrower than its width. */
    private static final int[][] SHAPES = {
        {16, 16, 16}, {32, 64, 64}, {768, 64, 64}, {17, 16, 16}, {16, 17, 64}, {15, 15, 16}, {1, 1, 16},
        {33, 50, 64}, {100, 7, 16}, {0, 16, 16}, {257, 64, 64}, {48, 31, 64},
    };

    /** Register blocks (where 512-bit vectors are not native they run emulated, more slowly) and element by element. */
    @ParameterizedTest(name = "registers={0}")
    @ValueSource(booleans = {true, false})
    void transposingCopyIsExact(boolean registers) {
        SplittableRandom rnd = new SplittableRandom(registers ? 16 : 17);
        for (int[] shape : SHAPES) {
            Case c = new Case(shape, rnd);
            float[] dst = c.garbage();
            GemmPack.transpose(c.b, c.src, c.ld, c.depth, c.cols, c.width, dst, c.dOff, registers);
            assertThat(dst).as("depth %d cols %d width %d", c.depth, c.cols, c.width).containsExactly(c.expected());
        }
    }

    /** B's column j is a row of a stored [cols + 2, depth + 5] matrix starting at (1, 3); the panel sits at dOff. */
    private static final class Case {
        final int depth, cols, width, ld, src, dOff = 7;
        final float[] b;

        Case(int[] shape, SplittableRandom rnd) {
            depth = shape[0];
            cols = shape[1];
            width = shape[2];
            ld = depth + 5;
            src = ld + 3;
            b = new float[(cols + 2) * ld];
            for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian();
        }

        float[] garbage() {
            float[] dst = new float[dOff + depth * width + 9];
            Arrays.fill(dst, Float.NaN);
            return dst;
        }

        float[] expected() {
            float[] dst = garbage();
            for (int p = 0; p < depth; p++) {
                for (int j = 0; j < width; j++) dst[dOff + p * width + j] = j < cols ? b[src + j * ld + p] : 0f;
            }
            return dst;
        }
    }
}
