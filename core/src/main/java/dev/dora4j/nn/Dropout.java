package dev.dora4j.nn;

import java.util.SplittableRandom;

/**
 * Inverted dropout masks as {@code torch.nn.Dropout} applies them: each element kept with
 * probability {@code 1 - p} and scaled by {@code 1 / (1 - p)}. The k-th mask drawn is a pure
 * function of (seed, k), so a run can rewind to a position and draw the same masks again (for
 * activation checkpointing and for resuming). A mask source can be replaced, for instance by
 * fixed masks in tests that compare against a reference.
 */
public final class Dropout {
    /** Supplies the scaled mask for an input of {@code size} elements. */
    @FunctionalInterface
    public interface MaskSource {
        float[] mask(int size);
    }

    private final float p;
    private final long seed;
    private long position;
    private MaskSource source;
    private boolean training = true;

    public Dropout(float p, long seed) {
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout must be in [0, 1), got " + p);
        this.p = p;
        this.seed = seed;
    }

    public float p() {
        return p;
    }

    public void training(boolean on) {
        this.training = on;
    }

    public boolean training() {
        return training;
    }

    public void source(MaskSource source) {
        this.source = source;
    }

    /** True when this dropout changes its input (training with p > 0). */
    public boolean active() {
        return training && p > 0f;
    }

    /** How many masks have been drawn. */
    public long position() {
        return position;
    }

    /** Makes the next mask the one drawn at {@code position}. */
    public void rewind(long position) {
        this.position = position;
    }

    /** The next mask, or null when inactive. */
    public float[] nextMask(int size) {
        if (!active()) return null;
        long k = position++;
        if (source != null) return source.mask(size);
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + k);
        float keep = 1f / (1f - p);
        float[] m = new float[size];
        for (int i = 0; i < size; i++) m[i] = rng.nextDouble() < p ? 0f : keep;
        return m;
    }

    /** The stream positions of the adapters' dropouts of {@code layers} (0 where there is none), for replaying them. */
    public static long[] positions(java.util.List<Linear> layers) {
        long[] pos = new long[layers.size()];
        for (int i = 0; i < pos.length; i++) {
            var a = layers.get(i).adapter();
            pos[i] = a == null || a.dropout() == null ? 0 : a.dropout().position();
        }
        return pos;
    }

    /** Rewinds the adapters' dropouts of {@code layers} to {@code positions} (from {@link #positions}). */
    public static void rewind(java.util.List<Linear> layers, long[] positions) {
        for (int i = 0; i < positions.length; i++) {
            var a = layers.get(i).adapter();
            if (a != null && a.dropout() != null) a.dropout().rewind(positions[i]);
        }
    }
}
