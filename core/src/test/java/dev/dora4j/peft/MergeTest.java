package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.testing.Approx;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MergeTest {
    @ParameterizedTest(name = "dora={0} r={1} {2}x{3}")
    @CsvSource({"false, 1, 5, 3", "false, 8, 64, 96", "true, 1, 5, 3", "true, 8, 64, 96", "true, 16, 257, 63"})
    void mergedLayerMatchesAdapterAndUnmergeRestoresWeight(boolean dora, int r, int in, int out) {
        SplittableRandom rng = new SplittableRandom(r + in);
        Linear layer = LoraAdapterGradTest.layer(rng, in, out, r, dora, true, 0, false);
        float[] original = layer.weight().data().clone();
        float[] xs = new float[5 * in];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) rng.nextGaussian();
        Tensor x = Tensor.of(xs, 5, in);

        float[] unmerged = layer.forward(Tape.inference(), x).data();
        layer.merge();
        assertThat(layer.merged()).isTrue();
        float[] merged = layer.forward(Tape.inference(), x).data();
        Approx.assertClose("merged forward", merged, unmerged, 1e-5);

        if (dora) {
            LoraAdapter ad = (LoraAdapter) layer.adapter();
            float[] norms = DoraNorm.rowNorms(layer.weight().data(), out, in);
            Approx.assertClose("merged row norms equal the magnitude", norms, ad.magnitude().data(), 1e-5);
        }
        layer.unmerge();
        Approx.assertClose("unmerged weight", layer.weight().data(), original, 1e-5);
        Approx.assertClose("forward after unmerge", layer.forward(Tape.inference(), x).data(), unmerged, 1e-5);
    }
}
