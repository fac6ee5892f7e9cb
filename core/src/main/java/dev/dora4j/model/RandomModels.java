package dev.dora4j.model;

import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Randomly initialised models for benchmarks: weights ~ N(0, 0.02²) as transformers initialises Llama, norms 1. */
public final class RandomModels {
    private RandomModels() {}

    public static LlamaModel llama(LlamaConfig c, long seed) {
        return llama(c, seed, LinearStorage.AS_STORED);
    }

    /** As {@link #llama(LlamaConfig, long)} with the decoder layers' linear weights kept as {@code storage} says. */
    public static LlamaModel llama(LlamaConfig c, long seed, LinearStorage storage) {
        SplittableRandom rng = new SplittableRandom(seed);
        int h = c.hiddenSize(), ff = c.intermediateSize();
        Tensor embed = normal(rng, c.vocabSize(), h);
        List<LlamaBlock> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            layers.add(new LlamaBlock(c, ones(h), ones(h),
                    linear(rng, storage, p + "self_attn.q_proj", c.qDim(), h, c.attentionBias()),
                    linear(rng, storage, p + "self_attn.k_proj", c.kvDim(), h, c.attentionBias()),
                    linear(rng, storage, p + "self_attn.v_proj", c.kvDim(), h, c.attentionBias()),
                    linear(rng, storage, p + "self_attn.o_proj", h, c.qDim(), false),
                    linear(rng, storage, p + "mlp.gate_proj", ff, h, false),
                    linear(rng, storage, p + "mlp.up_proj", ff, h, false),
                    linear(rng, storage, p + "mlp.down_proj", h, ff, false)));
        }
        Tensor head = c.tieWordEmbeddings() ? embed : normal(rng, c.vocabSize(), h);
        return new LlamaModel(c, embed, layers, ones(h), head);
    }

    private static Linear linear(SplittableRandom rng, LinearStorage storage, String path, int out, int in,
                                 boolean bias) {
        return new Linear(path, storage.apply(normal(rng, out, in)), bias ? Tensor.of(new float[out], out) : null);
    }

    private static Tensor normal(SplittableRandom rng, int rows, int cols) {
        float[] d = new float[Math.multiplyExact(rows, cols)];
        for (int i = 0; i < d.length; i++) d[i] = (float) (gaussian(rng) * 0.02);
        return Tensor.of(d, rows, cols);
    }

    private static double gaussian(SplittableRandom rng) {
        double u = 1.0 - rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static Tensor ones(int n) {
        float[] d = new float[n];
        java.util.Arrays.fill(d, 1f);
        return Tensor.of(d, n);
    }
}
