package dev.dora4j.autograd;

import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ScratchDiagTest {
    static Tensor r(SplittableRandom rng, boolean t, double s, int... shape) { return TransformerOpsGradTest.random(rng, t, s, shape); }

    @Test
    void ce() {
        int[][] cases = {{1,5,128},{3,12,2},{7,5,3},{7,12,2},{7,5,1}};
        for (double step : new double[] {0.03, 0.1, 0.2}) for (int active : new int[] {1, 2, 9}) { double hs = 1; int vocab = 11; GradCheck gc = new GradCheck(step, 200, 1234);
            double worst = 0, worstSingle = 0;
            for (int[] c : cases) for (int seed = 0; seed < 8; seed++) {
                SplittableRandom rng = new SplittableRandom(seed * 77 + 5);
                Tensor hidden = r(rng, true, hs, c[0], c[1]), head = r(rng, true, hs, vocab, c[1]);
                int[] targets = new int[c[0]];
                for (int t = 0; t < c[0]; t++) targets[t] = t % 3 == 1 || t / 3 >= active ? -100 : rng.nextInt(vocab);
                worst = Math.max(worst, gc.check(tp -> TransformerOps.crossEntropyWithHead(tp, hidden, head, targets, 5f, c[2]), List.of(hidden, head)).maxRelError());
                for (Tensor p : List.of(hidden, head)) worstSingle = Math.max(worstSingle, gc.check(tp -> TransformerOps.crossEntropyWithHead(tp, hidden, head, targets, 5f, c[2]), List.of(p)).maxRelError());
            }
            System.out.printf("CE step=%.2f active=%d all=%.2e single=%.2e%n", step, active, worst, worstSingle);
        }
    }
}
