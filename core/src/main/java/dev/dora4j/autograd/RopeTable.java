package dev.dora4j.autograd;

/**
 * Precomputed rotary-embedding cosines and sines for positions [0, maxPositions) and one head size, computed as
 * Hugging Face's {@code LlamaRotaryEmbedding} does in float32: {@code inv_freq = 1 / theta^(arange(0, D, 2) / D)},
 * optionally rescaled by {@code rope_scaling}, then {@code cos(position · inv_freq)} and {@code sin(...)} of the
 * float product. HF's {@code cat(freqs, freqs)} duplicates each frequency for dimensions i and i + D/2, so only
 * D/2 values per position are stored.
 *
 * <p>Positions are computed as far as they are used (the longest sequence so far, rounded up to a power of two):
 * Llama 3.2 allows 131,072 positions, 34 MB of tables at head size 64, while a run of 512-token sequences needs 128
 * KB. Each position's values do not depend on how far the table reaches.
 */
public final class RopeTable {
    /** Positions computed when the table is made. */
    private static final int FIRST_POSITIONS = 256;

    private final int headDim;
    private final int maxPositions;
    private final float[] inverseFrequencies;
    private volatile Values values;

    /** cos and sin: [positions, headDim/2]. */
    record Values(int positions, float[] cos, float[] sin) {}

    private RopeTable(int headDim, int maxPositions, float[] inverseFrequencies) {
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        this.inverseFrequencies = inverseFrequencies;
        this.values = compute(Math.min(maxPositions, FIRST_POSITIONS));
    }

    /** The values for positions [0, positions) at least ({@code positions ≤ maxPositions}). */
    Values covering(int positions) {
        Values v = values;
        if (positions <= v.positions()) return v;
        synchronized (this) {
            v = values;
            if (positions > v.positions()) {
                long grown = Math.max(positions, 2L * v.positions());
                values = v = compute((int) Math.min(maxPositions, grown));
            }
            return v;
        }
    }

    // on the calling thread (it may hold this table's lock: no pool task may wait for it)
    private Values compute(int positions) {
        int half = headDim / 2;
        float[] cos = new float[Math.multiplyExact(positions, half)], sin = new float[cos.length];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = inverseFrequencies[i] * (float) p;
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        return new Values(positions, cos, sin);
    }

    /**
     * The table for heads of {@code headDim} (even) and positions below {@code maxPositions}, with base
     * {@code theta} and {@code scaling} (null or type "default" for none).
     */
    public static RopeTable create(int headDim, int maxPositions, double theta, RopeScaling scaling) {
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("rope: head dim must be positive and even, got " + headDim);
        }
        if (maxPositions <= 0) {
            throw new IllegalArgumentException("rope: max positions must be positive, got " + maxPositions);
        }
        if (!(theta > 0)) throw new IllegalArgumentException("rope: theta must be positive, got " + theta);
        float[] invFreq = defaultInverseFrequencies(headDim, theta);
        if (scaling != null) {
            switch (scaling.type()) {
                case "linear" -> {
                    float factor = (float) scaling.factor();
                    for (int i = 0; i < invFreq.length; i++) invFreq[i] /= factor;
                }
                case "llama3" -> llama3(invFreq, scaling);
                default -> { }
            }
        }
        return new RopeTable(headDim, maxPositions, invFreq);
    }

    public int headDim() {
        return headDim;
    }

    public int maxPositions() {
        return maxPositions;
    }

    /** The inverse frequencies after scaling: [headDim/2] (a copy). */
    public float[] inverseFrequencies() {
        return inverseFrequencies.clone();
    }

    /** cos(position · inv_freq[i]) for i < headDim/2 (also the value at dimension i + headDim/2). */
    public float cos(int position, int i) {
        return covering(checkedPosition(position) + 1).cos()[position * (headDim / 2) + checkedIndex(i)];
    }

    /** sin(position · inv_freq[i]) for i < headDim/2 (also the value at dimension i + headDim/2). */
    public float sin(int position, int i) {
        return covering(checkedPosition(position) + 1).sin()[position * (headDim / 2) + checkedIndex(i)];
    }

    int checkedPosition(int position) {
        if (position < 0 || position >= maxPositions) {
            throw new IllegalArgumentException("rope: position " + position + " outside [0, " + maxPositions + ")");
        }
        return position;
    }

    private int checkedIndex(int i) {
        if (i < 0 || i >= headDim / 2) throw new IndexOutOfBoundsException("rope: frequency index " + i);
        return i;
    }

    // 1 / theta^(arange(0, D, 2).float() / D), each step rounded to float32 as torch does
    private static float[] defaultInverseFrequencies(int headDim, double theta) {
        float base = (float) theta;
        float[] invFreq = new float[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            float exponent = (float) (2 * i) / (float) headDim;
            float power = (float) Math.pow(base, exponent);
            invFreq[i] = 1f / power;
        }
        return invFreq;
    }

    // HF _compute_llama3_parameters in float32: long wavelengths are divided by factor, short ones kept, and the
    // band between original/high_freq_factor and original/low_freq_factor interpolated smoothly
    private static void llama3(float[] invFreq, RopeScaling s) {
        float factor = (float) s.factor();
        float low = (float) s.lowFreqFactor();
        float bandWidth = (float) (s.highFreqFactor() - s.lowFreqFactor());
        float oldContext = (float) s.originalMaxPositions();
        float lowFreqWavelen = (float) (s.originalMaxPositions() / s.lowFreqFactor());
        float highFreqWavelen = (float) (s.originalMaxPositions() / s.highFreqFactor());
        float twoPi = (float) (2 * Math.PI);
        for (int i = 0; i < invFreq.length; i++) {
            float f = invFreq[i];
            float wavelen = (1f / f) * twoPi;
            float scaled = wavelen > lowFreqWavelen ? f / factor : f;
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                float smooth = ((1f / wavelen) * oldContext - low) / bandWidth;
                scaled = (1f - smooth) * scaled / factor + smooth * scaled;
            }
            invFreq[i] = scaled;
        }
    }
}
