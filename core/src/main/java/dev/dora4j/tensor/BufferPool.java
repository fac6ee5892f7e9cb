package dev.dora4j.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Float buffers reused within a training step and from one step to the next, so that a step stops allocating once
 * its shapes have been seen. A training tape takes its ops' outputs, saved values and gradients from here and gives
 * each back as soon as backward is done with it (after the backward of the op that made it); the next op, or the next
 * step, gets the same memory again. Without it a step leaves its whole working set (about a gigabyte on a 134M-parameter
 * Llama) to the collector, whose headroom then decides the resident size.
 *
 * <p>Buffers are matched by exact length and come back zeroed, exactly like new arrays, unless the caller will write
 * every element before it reads any ({@link #takeForOverwrite}). Only buffers this pool lent are taken back, each
 * once, so giving back a caller's array or giving one back twice does nothing. Steps of one shape
 * (packed text, benchmarks) reuse everything; batches whose length changes reuse what their shapes share. At
 * {@link #endStep} buffers lent and never given back are forgotten (left to the collector), and free buffers are
 * dropped: of each length no more than the step had lent at once, and in all no more than the largest working set of
 * the last {@value #RECENT_STEPS} steps (the lengths asked for longest ago go first): the pool never keeps more than a
 * step needs. Buffers under
 * {@link #MIN_FLOATS} are plain new arrays: the allocator makes those as cheaply. Thread-safe.
 */
public final class BufferPool {
    /** Arrays shorter than this are allocated, not pooled. */
    public static final int MIN_FLOATS = 4096;

    /**
     * The system property that, set to {@code true}, fills every buffer {@link #takeForOverwrite} hands out with NaN
     * (the tests set it): a caller that reads an element it has not written then produces NaN instead of a stale
     * value.
     */
    public static final String POISON_PROPERTY = "dora4j.pool.poison";
    private static final boolean POISON = Boolean.getBoolean(POISON_PROPERTY);

    /** Steps over which the largest working set bounds what the pool keeps free. */
    static final int RECENT_STEPS = 4;

    /** The buffers of one length: those free, how many are lent now and the most lent at once this step. */
    private static final class Length {
        final ArrayDeque<float[]> free = new ArrayDeque<>();
        int lent, peak;
        long lastAsked;
    }

    private final Map<Integer, Length> lengths = new HashMap<>();
    private final Set<float[]> lent = Collections.newSetFromMap(new IdentityHashMap<>());
    private final long[] recentNeeds = new long[RECENT_STEPS];
    private long step;
    private long freeFloats;
    private long reusedFloats, allocatedFloats;

    /** A zeroed array of {@code n} floats, reused when one of that length is free. */
    public float[] take(int n) {
        return lend(n, true);
    }

    /**
     * An array of {@code n} floats whose values are undefined (a reused buffer keeps those of its last use), for a
     * caller that writes every element before it reads any: an op's output, or a gradient's first contribution
     * ({@link Tensor#gradForWrite}). Zeroing a buffer is a pass over its memory on the calling thread: a DoRA step on
     * the 134M-parameter 'base' Llama zeroed 0.95 GB of buffers, about 4 % of its time.
     */
    public float[] takeForOverwrite(int n) {
        return lend(n, false);
    }

    private float[] lend(int n, boolean zeroed) {
        float[] a;
        boolean reused = false;
        if (n < MIN_FLOATS) {
            a = new float[n];
        } else {
            synchronized (this) {
                Length l = lengths.computeIfAbsent(n, k -> new Length());
                l.lastAsked = step;
                l.peak = Math.max(l.peak, ++l.lent);
                a = l.free.poll();
                if (a == null) {
                    allocatedFloats += n;
                    a = new float[n];
                } else {
                    freeFloats -= n;
                    reusedFloats += n;
                    reused = true;
                }
                lent.add(a);
            }
        }
        // outside the lock: nobody else holds a lent buffer
        if (zeroed && reused) Arrays.fill(a, 0f);
        else if (!zeroed && POISON) Arrays.fill(a, Float.NaN);
        return a;
    }

    /** Takes {@code a} back when this pool lent it and it is still out; true when it did. */
    public synchronized boolean give(float[] a) {
        if (a == null || !lent.remove(a)) return false;
        Length l = lengths.get(a.length);
        l.lent--;
        l.free.push(a);
        freeFloats += a.length;
        return true;
    }

    /**
     * Ends a step: lent buffers not given back are forgotten; of each length asked for, no more are kept free than the
     * step had lent at once, and in all no more than the largest working set of the recent steps (the sum over
     * lengths of those counts), dropping the lengths asked for longest ago first.
     */
    public synchronized void endStep() {
        lent.clear();
        long need = 0;
        for (var e : lengths.entrySet()) {
            Length l = e.getValue();
            if (l.lastAsked != step) continue;
            need += (long) e.getKey() * l.peak;
            while (l.free.size() > l.peak) {
                l.free.pop();
                freeFloats -= e.getKey();
            }
            l.lent = 0;
            l.peak = 0;
        }
        recentNeeds[(int) (step % RECENT_STEPS)] = need;
        long keep = 0;
        for (long n : recentNeeds) keep = Math.max(keep, n);
        if (freeFloats > keep) {
            List<Integer> byAge = new ArrayList<>(lengths.keySet());
            byAge.sort(Comparator.comparingLong(n -> lengths.get(n).lastAsked));
            for (int n : byAge) {
                if (freeFloats <= keep) break;
                freeFloats -= (long) n * lengths.remove(n).free.size();
            }
        }
        lengths.values().removeIf(l -> l.free.isEmpty() && l.lastAsked != step);
        step++;
    }

    /** Bytes held free for reuse. */
    public synchronized long freeBytes() {
        return 4 * freeFloats;
    }

    /** Bytes handed out that were reused, and bytes that had to be allocated, since the pool was made. */
    public synchronized long[] reusedAndAllocatedBytes() {
        return new long[] {4 * reusedFloats, 4 * allocatedFloats};
    }
}
