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
        return interleavedSteps(model, List.of(adapters), rows, warmup, steps, seed).getFirst();
    }

    /**
     * As {@link #decodeSteps} for several batch compositions at once, their steps taken in turn (one of each per
     * round), so that a machine whose load changes during the run slows them alike.
     */
    public static List<StepTimes> interleavedSteps(CausalLM model, List<List<ServedAdapter>> compositions, int rows, int warmup,
            int steps, long seed) {
        List<MixedLinearForward> linears = new ArrayList<>();
        List<List<KvCache>> caches = new ArrayList<>();
        for (List<ServedAdapter> adapters : compositions) {
            int groups = adapters.size();
            if (groups == 0 || rows % groups != 0) throw new IllegalArgumentException(rows + " rows do not split into " + groups + " groups");
            int[] starts = new int[groups];
            for (int g = 0; g < groups; g++) starts[g] = g * (rows / groups);
            linears.add(new MixedLinearForward(starts, adapters.toArray(new ServedAdapter[0])));
            List<KvCache> c = new ArrayList<>();
            for (int r = 0; r < rows; r++) c.add(model.newCache(warmup + steps));
            caches.add(c);
        }
        int[] ones = new int[rows];
        Arrays.fill(ones, 1);
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] seconds = new double[compositions.size()][steps];
        for (int s = 0; s < warmup + steps; s++) {
            int[] ids = new int[rows];
            for (int r = 0; r < rows; r++) ids[r] = rng.nextInt(model.vocabSize());
            for (int k = 0; k < compositions.size(); k++) {
                long t0 = System.nanoTime();
                model.decode(ids, caches.get(k), ones, linears.get(k));
                if (s >= warmup) seconds[k][s - warmup] = (System.nanoTime() - t0) / 1e9;
            }
        }
        List<StepTimes> out = new ArrayList<>();
        for (double[] t : seconds) {
            double[] sorted = t.clone();
            Arrays.sort(sorted);
            out.add(new StepTimes(t, sorted[sorted.length / 2]));
        }
        return out;
    }
}
