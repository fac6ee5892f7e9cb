package dev.dora4j.generate;

import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.model.RandomModels;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy decoding speed (batch 1, KV cache) of one random model kept in several storages, the storages taken in turn
 * within each round so that a change in the machine's load affects them alike. Decoding reads every weight once per
 * token, so it measures how well a smaller storage turns fewer bytes into more tokens.
 */
public final class DecodeBenchmark {
    /** One storage to measure: the checkpoint's dtype and how the decoder layers' linear weights are kept. */
    public record Variant(String name, WeightStorage dtype, LinearStorage linears) {}

    /** Tokens per second of each variant in each round, in the order given. */
    public record Result(Map<String, double[]> tokensPerSecond, Map<String, Long> weightBytes) {}

    private DecodeBenchmark() {}

    public static Result run(LlamaConfig config, List<Variant> variants, int tokens, int rounds, long seed) {
        if (tokens < 1 || rounds < 1) throw new IllegalArgumentException("tokens and rounds must be positive");
        List<LlamaModel> models = new ArrayList<>();
        Map<String, Long> bytes = new LinkedHashMap<>();
        for (Variant v : variants) {
            LlamaModel m = RandomModels.llama(config, seed, v.dtype(), v.linears());
            models.add(m);
            long b = 0;
            for (var t : m.namedTensors().values()) b += t.bytes();
            bytes.put(v.name(), b);
        }
        Map<String, double[]> rates = new LinkedHashMap<>();
        for (Variant v : variants) rates.put(v.name(), new double[rounds]);
        int capacity = Math.min(config.maxPositionEmbeddings(), tokens + 1);
        for (int i = 0; i < variants.size(); i++) decode(models.get(i), Math.min(4, tokens), capacity);
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < variants.size(); i++) {
                long t0 = System.nanoTime();
                decode(models.get(i), tokens, capacity);
                rates.get(variants.get(i).name())[r] = tokens / ((System.nanoTime() - t0) / 1e9);
            }
        }
        return new Result(rates, bytes);
    }

    // greedy decoding of n tokens from token 1 with a fresh cache
    private static void decode(LlamaModel model, int n, int capacity) {
        Generator g = new Generator(model, capacity);
        float[] logits = g.step(1);
        for (int i = 1; i < n; i++) g.step(argmax(logits));
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
