package dev.dora4j.train;

import java.util.SplittableRandom;

/**
 * Which examples each optimizer step reads: epochs of {@code ceil(n / batch)} batches over a
 * permutation drawn from (seed, epoch), or file order without shuffling. A pure function of the
 * step number, so a resumed run reads exactly what the uninterrupted run would have.
 */
public final class BatchPlan {
    private final int examples, batch;
    private final boolean shuffle;
    private final long seed;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    public BatchPlan(int examples, int batch, boolean shuffle, long seed) {
        if (examples <= 0) throw new IllegalArgumentException("no training examples");
        this.examples = examples;
        this.batch = batch;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    public int batchesPerEpoch() {
        return (examples + batch - 1) / batch;
    }

    /** Example indices of optimizer step {@code step} (0-based). The last batch of an epoch may be short. */
    public int[] batch(long step) {
        int epoch = (int) (step / batchesPerEpoch());
        int index = (int) (step % batchesPerEpoch());
        int[] order = order(epoch);
        int start = index * batch, end = Math.min(examples, start + batch);
        int[] out = new int[end - start];
        System.arraycopy(order, start, out, 0, out.length);
        return out;
    }

    public int epochOf(long step) {
        return (int) (step / batchesPerEpoch());
    }

    private int[] order(int epoch) {
        if (epoch == cachedEpoch) return cachedOrder;
        int[] order = new int[examples];
        for (int i = 0; i < examples; i++) order[i] = i;
        if (shuffle) {
            SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + epoch);
            for (int i = examples - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
        }
        cachedEpoch = epoch;
        cachedOrder = order;
        return order;
    }
}
