package dev.dora4j.train;

/**
 * A trainer's place in a data-parallel gang of {@code ranks}: which positions of each global batch it reads (rank
 * {@code r} takes positions {@code r, r + ranks, r + 2·ranks, ...} of the batch {@link BatchPlan} draws from
 * (seed, epoch)), the reducer that sums the ranks' gradients, and where its dropout streams stand at each step.
 * The loss of a shard is divided by the target count of the global batch, so the summed gradients are those of one
 * pass over the whole batch, whatever the number of ranks. One process is rank 0 of 1 with no reducer.
 */
public record DataParallel(int rank, int ranks, GradientReducer reducer) {
    /** A single process: reads whole batches, sums nothing. */
    public static final DataParallel SINGLE = new DataParallel(0, 1, null);

    /** Dropout masks one rank may draw in one step before its slice of the stream runs into the next one's. */
    private static final int MASKS_PER_RANK_STEP_BITS = 20;
    private static final int MAX_RANKS_BITS = 12;

    public DataParallel {
        if (ranks < 1 || ranks > 1 << MAX_RANKS_BITS) throw new IllegalArgumentException("ranks must be in [1, 4096], got " + ranks);
        if (rank < 0 || rank >= ranks) throw new IllegalArgumentException("rank " + rank + " is not in [0, " + ranks + ")");
        if (ranks > 1 && reducer == null) throw new IllegalArgumentException("a gang of " + ranks + " ranks needs a gradient reducer");
    }

    public boolean isSingle() {
        return ranks == 1 && reducer == null;
    }

    /** This rank's examples of a global batch: every {@code ranks}-th position from {@code rank} (possibly none). */
    public int[] shard(int[] globalBatch) {
        if (ranks == 1) return globalBatch;
        int[] out = new int[Math.max(0, (globalBatch.length - rank + ranks - 1) / ranks)];
        for (int i = 0; i < out.length; i++) out[i] = globalBatch[rank + i * ranks];
        return out;
    }

    /**
     * Where this rank's dropout streams start in 0-based step {@code step}: a slice of the stream of its own per
     * (step, rank), so the masks do not depend on the gang's history and a resumed run, with any number of ranks,
     * draws what the uninterrupted one would have for the same (step, rank).
     */
    public long dropoutPosition(long step) {
        return ((step << MAX_RANKS_BITS) + rank) << MASKS_PER_RANK_STEP_BITS;
    }
}
