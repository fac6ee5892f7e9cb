package dev.dora4j.peft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.autograd.GradCheck;
import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LoraAdapterGradTest {
    private static float[] random(SplittableRandom rng, int n, double scale) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        return d;
    }

    /** A layer with a random adapter; B non-zero and m ≠ ‖W + sBA‖ so every term matters. */
    static Linear layer(SplittableRandom rng, int in, int out, int r, boolean dora, boolean bias, float dropoutP,
            boolean exact) {
        Linear base = new Linear("layer", Tensor.of(random(rng, out * in, 1), out, in),
                bias ? Tensor.of(random(rng, out, 1), out) : null);
        Tensor a = Tensor.param(random(rng, r * in, 0.5), r, in);
        Tensor b = Tensor.param(random(rng, out * r, 0.5), out, r);
        Tensor m = null;
        if (dora) {
            float[] mag = random(rng, out, 1);
            for (int i = 0; i < out; i++) mag[i] = 1.5f + mag[i];
            m = Tensor.param(mag, out);
        }
        Dropout dropout = null;
        if (dropoutP > 0) {
            dropout = new Dropout(dropoutP, 1);
            float[] fixed = new float[0];
            SplittableRandom maskRng = new SplittableRandom(99);
            float[][] cache = {fixed};
            dropout.source(size -> {
                if (cache[0].length != size) {
                    cache[0] = new float[size];
                    for (int i = 0; i < size; i++) cache[0][i] = maskRng.nextDouble() < dropoutP ? 0f : 1f / (1f - dropoutP);
                }
                return cache[0];
            });
        }
        base.adapter(new LoraAdapter(a, b, m, 2f / r, dropout).exactNormGradient(exact));
        return base;
    }

    @ParameterizedTest(name = "dora={0} r={1} {2}x{3} bias={4} dropout={5} exact={6}")
    @CsvSource({
        "false, 1, 7, 5, false, 0, false",
        "false, 4, 17, 9, true, 0.3, false",
        "true, 1, 7, 5, false, 0, false",
        "true, 4, 17, 9, true, 0, false",
        "true, 3, 9, 13, true, 0.3, false",
        "true, 4, 17, 9, false, 0, true",
        "true, 2, 11, 6, true, 0.5, true",
    })
    void gradientsMatchFiniteDifferences(boolean dora, int r, int in, int out, boolean bias, float p, boolean exact) {
        SplittableRandom rng = new SplittableRandom(r * 131L + in * 7L + out);
        Linear layer = layer(rng, in, out, r, dora, bias, p, exact);
        Tensor x = Tensor.param(random(rng, 3 * in, 1), 3, in);
        LoraAdapter ad = (LoraAdapter) layer.adapter();
        List<Tensor> params = new ArrayList<>(List.of(x, ad.loraA(), ad.loraB()));
        if (dora) params.add(ad.magnitude());
        if (dora && !exact) ad.holdNorm(ad.weightNorm(layer));
        GradCheck.Result res = GradCheck.standard().check(t -> layer.forward(t, x), params);
        assertThat(res.maxRelError()).as(res.toString()).isLessThan(1e-3);
    }

    @Test
    void detachedNormDiffersFromExactGradient() {
        SplittableRandom rng = new SplittableRandom(5);
        Linear layer = layer(rng, 9, 6, 3, true, false, 0, false);
        Tensor x = Tensor.param(random(rng, 2 * 9, 1), 2, 9);
        LoraAdapter ad = (LoraAdapter) layer.adapter();
        GradCheck.Result res = GradCheck.standard().check(t -> layer.forward(t, x), List.of(ad.loraA(), ad.loraB()));
        assertThat(res.maxRelError()).as("the detached norm is not the exact gradient").isGreaterThan(1e-2);
    }

    @Test
    void zeroNormRowGivesNoNaN() {
        int in = 6, out = 4, r = 2;
        float[] w = new float[out * in];
        for (int i = in; i < w.length; i++) w[i] = (i % 5) - 2f;
        Linear base = new Linear("layer", Tensor.of(w, out, in), null);
        float[] bData = new float[out * r];
        for (int i = r; i < bData.length; i++) bData[i] = 0.1f * i;
        Tensor a = Tensor.param(new float[] {0.1f, -0.2f, 0.3f, 0.1f, 0, 0.2f, -0.1f, 0.2f, 0.1f, 0.3f, -0.3f, 0}, r, in);
        Tensor b = Tensor.param(bData, out, r);
        Tensor m = Tensor.param(new float[] {0f, 1f, 2f, 3f}, out);
        base.adapter(new LoraAdapter(a, b, m, 1f, null).exactNormGradient(true));
        Tensor x = Tensor.param(new float[] {1, 2, 3, 4, 5, 6}, 1, in);
        Tape tape = Tape.training();
        Tensor y = base.forward(tape, x);
        float[] ones = {1, 1, 1, 1};
        tape.backward(dev.dora4j.autograd.Ops.weightedSum(tape, y, ones));
        assertThat(y.data()).doesNotContain(Float.NaN);
        assertThat(y.data()[0]).isZero();
        for (Tensor t : List.of(a, b, m, x)) {
            for (float g : t.grad()) assertThat(Float.isFinite(g)).isTrue();
        }
    }

    @Test
    void freshDoraAdapterLeavesTheLayerUnchanged() {
        SplittableRandom rng = new SplittableRandom(11);
        int in = 12, out = 7;
        Linear layer = new Linear("model.layers.0.self_attn.q_proj", Tensor.of(random(rng, out * in, 1), out, in), null);
        Tensor x = Tensor.of(random(rng, 4 * in, 1), 4, in);
        float[] before = layer.forward(Tape.inference(), x).data();
        AdapterConfig cfg = AdapterConfig.create(4, 8, 0f, List.of("q_proj"), true, false, "CAUSAL_LM", "m");
        AdapterInjector.inject(java.util.Map.of(layer.path(), layer), cfg, null, 1);
        float[] after = layer.forward(Tape.inference(), x).data();
        dev.dora4j.testing.Approx.assertClose("fresh DoRA output", after, before, 1e-6);
    }
}
