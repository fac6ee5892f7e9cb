package dev.dora4j.autograd;

/**
 * Hugging Face's {@code rope_scaling} for rotary embeddings: {@code type} is "linear" (every inverse frequency
 * divided by {@code factor}) or "llama3" (Llama 3.1's wavelength-dependent scaling, which also uses
 * {@code lowFreqFactor}, {@code highFreqFactor} and {@code originalMaxPositions}); "default" means no scaling.
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {
    public RopeScaling {
        if (type == null) throw new IllegalArgumentException("rope scaling: type is null");
        switch (type) {
            case "default" -> { }
            case "linear" -> positive(factor, "factor");
            case "llama3" -> {
                positive(factor, "factor");
                positive(lowFreqFactor, "low_freq_factor");
                positive(highFreqFactor, "high_freq_factor");
                positive(originalMaxPositions, "original_max_position_embeddings");
            }
            default -> throw new IllegalArgumentException(
                    "rope scaling type '" + type + "' is not supported (default, linear, llama3)");
        }
    }

    /** Linear scaling: positions interpolated by {@code factor}. */
    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 1, 1, 0);
    }

    /** Llama 3.1 scaling with HF's field values. */
    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                                     int originalMaxPositions) {
        return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    private static void positive(double v, String field) {
        if (!(v > 0)) throw new IllegalArgumentException("rope scaling: " + field + " must be positive, got " + v);
    }
}
