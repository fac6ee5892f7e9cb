package dev.dora4j.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClassificationMetricsTest {
    @Test
    void macroF1AsScikitLearnComputesIt() {
        // scikit-learn's f1_score documentation example: y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1] -> macro 0.2666...
        ClassificationMetrics m = ClassificationMetrics.of(new int[] {0, 1, 2, 0, 1, 2}, new int[] {0, 2, 1, 0, 0, 1}, 6.0,
                List.of("a", "b", "c"));
        assertThat(m.macroF1()).isCloseTo(0.26666666666666666, within(1e-12));
        assertThat(m.accuracy()).isCloseTo(2.0 / 6, within(1e-12));
        assertThat(m.loss()).isEqualTo(1.0);
        assertThat(m.confusion()[1][2]).isEqualTo(1);
        assertThat(m.confusion()[0][0]).isEqualTo(2);
    }

    @Test
    void classesAbsentFromGoldAndPredictionsAreLeftOut() {
        // labels 0 and 1 only occur; class 2 is left out of the mean as scikit-learn leaves out unseen labels
        ClassificationMetrics m = ClassificationMetrics.of(new int[] {0, 0, 1, 1}, new int[] {0, 1, 1, 1}, 0, List.of("a", "b", "c"));
        double f0 = 2.0 * 1 / (2 + 1), f1 = 2.0 * 2 / (2 + 3);
        assertThat(m.macroF1()).isCloseTo((f0 + f1) / 2, within(1e-12));
        assertThat(m.examples()).isEqualTo(4);
    }
}
