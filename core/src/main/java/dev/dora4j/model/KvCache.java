package dev.dora4j.model;

/**
 * One sequence's rotated keys and values for every decoder layer, up to a fixed capacity of positions. Rows are
 * written by {@link CachedAttention} as a decode step runs and become part of the sequence when the step ends.
 */
public final class KvCache {
    final float[][] keys, values;
    private final int capacity;
    private final int kvDim;
    private int length;

    KvCache(int layers, int kvDim, int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("a KV cache needs a capacity of at least one position, got " + capacity);
        this.capacity = capacity;
        this.kvDim = kvDim;
        keys = new float[layers][Math.multiplyExact(capacity, kvDim)];
        values = new float[layers][Math.multiplyExact(capacity, kvDim)];
    }

    /** The bytes a cache of {@code capacity} positions takes: keys and values, float32, every layer. */
    public static long bytes(int layers, int kvDim, int capacity) {
        return 2L * layers * kvDim * capacity * Float.BYTES;
    }

    /** Positions held. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    public int kvDim() {
        return kvDim;
    }

    public long bytes() {
        return bytes(keys.length, kvDim, capacity);
    }

    /** Forgets every position (the memory is kept for reuse). */
    public void clear() {
        length = 0;
    }

    void advance(int rows) {
        if (length + rows > capacity) throw new IllegalStateException("KV cache of " + capacity + " positions is full");
        length += rows;
    }
}
