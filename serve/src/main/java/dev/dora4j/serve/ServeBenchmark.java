package dev.dora4j.serve;

import dev.dora4j.model.CausalLM;
import dev.dora4j.model.KvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Engine-level measurements for benchmarks: the time of one decode step of a batch whose rows carry a given mix of
 * adapters, with the base product shared and each group's delta added as the server computes them.
 */
public final class ServeBenchmark {
    private ServeBenchmark() {}

    /** Step times in seconds (after warm-up) and the median. */
    public record StepTimes(double[] seconds, double median) {}

    /**
     * Decode steps of {@code rows} sequences, one new token each, from empty caches; rows split into equal
     * consecutive groups over {@code adapters} (a null entry is the base model).
     */
    public static StepTimes decodeSteps(CausalLM model, List<ServedAdapter> adapters, int rows, int warmup, int steps, long seed) {
        int groups = adapters.size();
        if (groups == 0 || rows % groups != 0) throw new IllegalArgumentException(rows + " rows do not split into " + groups + " groups");
        int[] starts = new int[groups];
        for (int g = 0; g < groups; g++) starts[g] = g * (rows / groups);
        MixedLinearForward linears = new MixedLinearForward(starts, adapters.toArray(new ServedAdapter[0]));
        List<KvCache> caches = new ArrayList<>();
        for (int r = 0; r < rows; r++) caches.add(model.newCache(warmup + steps));
        int[] ones = new int[rows];
        Arrays.fill(ones, 1);
        SplittableRandom rng = new SplittableRandom(seed);
        double[] seconds = new double[steps];
        for (int s = 0; s < warmup + steps; s++) {
            int[] ids = new int[rows];
            for (int r = 0; r < rows; r++) ids[r] = rng.nextInt(model.vocabSize());
            long t0 = System.nanoTime();
            model.decode(ids, caches, ones, linears);
            if (s >= warmup) seconds[s - warmup] = (System.nanoTime() - t0) / 1e9;
        }
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        return new StepTimes(seconds, sorted[sorted.length / 2]);
    }
}
