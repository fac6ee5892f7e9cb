package dev.dora4j.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import dev.dora4j.peft.AdapterWeights;
import org.junit.jupiter.api.Test;

class WeightDeltasTest {
    @Test
    void meansOverRowsWithZeroRowsGuarded() {
        // rows: scaled (ΔM 5, ΔD 0), zero on both sides (0, 0), rotated by 90° (0, 1), vanished (1, 1)
        float[] w0 = {3, 4, 0, 0, 1, 0, 0, 1};
        float[] wt = {6, 8, 0, 0, 0, 1, 0, 0};
        WeightDeltas.Delta d = WeightDeltas.between(wt, w0, 4, 2);
        assertThat(d.deltaM()).isCloseTo((5.0 + 0 + 0 + 1) / 4, within(1e-15));
        assertThat(d.deltaD()).isCloseTo((0.0 + 0 + 1 + 1) / 4, within(1e-15));
    }

    @Test
    void anUnchangedWeightHasNoDelta() {
        float[] w = {0.5f, -1.25f, 2f, 3f, 0.1f, -0.7f};
        WeightDeltas.Delta d = WeightDeltas.between(w, w, 2, 3);
        assertThat(d.deltaM()).isZero();
        assertThat(d.deltaD()).isCloseTo(0, within(1e-15));
    }

    @Test
    void mergedDoraRowsFollowPeftAndGuardZeroNorms() {
        // w0: [2, 2], A: [1, 2], B: [2, 1], s = 2: W + sBA = [[1, 2], [0, 0]]; m = [10, 3]
        Matrix w0 = new Matrix("w", new float[] {1, 0, 0, 0}, 2, 2);
        MergedRows rows = new MergedRows(w0, new AdapterWeights("w", new float[] {0, 1}, new float[] {1, 0}, new float[] {10, 3}, 1, 2, 2, 2.0));
        double[] row = new double[2];
        rows.fill(0, row);
        double n = Math.sqrt(5);
        assertThat(row).containsExactly(new double[] {10 / n, 20 / n}, within(1e-12));
        rows.fill(1, row);
        assertThat(row).containsExactly(0.0, 0.0);
        MergedRows lora = new MergedRows(w0, new AdapterWeights("w", new float[] {0, 1}, new float[] {1, 0}, null, 1, 2, 2, 2.0));
        lora.fill(0, row);
        assertThat(row).containsExactly(1.0, 2.0);
    }

    @Test
    void summaryFitsTheLeastSquaresLine() {
        List<Point> line = List.of(point(0.1, 2.3), point(0.2, 2.6), point(0.4, 3.2));
        Summary s = Summary.fit(line);
        assertThat(s.slope()).isCloseTo(3, within(1e-12));
        assertThat(s.intercept()).isCloseTo(2, within(1e-12));
        assertThat(s.pearson()).isCloseTo(1, within(1e-12));
        Summary negative = Summary.fit(List.of(point(0.1, 1.0), point(0.2, 0.5), point(0.3, 0.7)));
        assertThat(negative.slope()).isCloseTo(-1.5, within(1e-12));
        assertThat(negative.pearson()).isCloseTo(-0.03 / Math.sqrt(0.02 * 19.0 / 150), within(1e-12));
        Summary flat = Summary.fit(List.of(point(0.1, 1.0), point(0.1, 2.0)));
        assertThat(flat.slope()).isNaN();
        assertThat(flat.pearson()).isNaN();
    }

    private static Point point(double deltaD, double deltaM) {
        return new Point("r", "dora", 1, 0, "q_proj", deltaM, deltaD);
    }
}
