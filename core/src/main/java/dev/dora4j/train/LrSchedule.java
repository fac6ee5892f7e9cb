package dev.dora4j.train;

/**
 * Learning-rate schedules as transformers' {@code get_*_schedule_with_warmup} define them: the
 * multiplier for optimizer step k (0-based) rises linearly from 0 over the warmup steps, then stays
 * at 1 (constant), falls linearly to 0 at the last step (linear), or follows half a cosine to 0
 * (cosine).
 */
public record LrSchedule(String kind, float peak, int warmupSteps, int totalSteps) {
    public LrSchedule {
        if (!kind.equals("constant") && !kind.equals("linear") && !kind.equals("cosine")) {
            throw new IllegalArgumentException("unknown schedule '" + kind + "' (constant, linear, cosine)");
        }
    }

    /** The learning rate used by optimizer step {@code k} (0-based). */
    public float at(int k) {
        if (k < warmupSteps) return peak * k / Math.max(1, warmupSteps);
        return switch (kind) {
            case "constant" -> peak;
            case "linear" -> peak * Math.max(0f, (float) (totalSteps - k) / Math.max(1, totalSteps - warmupSteps));
            default -> {
                double progress = (double) (k - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                yield (float) (peak * Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress))));
            }
        };
    }
}
