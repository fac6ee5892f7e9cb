package dev.dora4j.peft;

import java.util.List;

/**
 * What a new adapter's config is made from (the options of {@code train}); each method keeps the
 * fields it has and writes its own config.
 *
 * @param rank              r
 * @param alpha             lora_alpha (LoRA/DoRA)
 * @param dropout           dropout on the adapter's input
 * @param rslora            alpha / sqrt(r) scaling (LoRA/DoRA)
 * @param veraDInitial      VeRA's d_initial, the initial value of λ_d
 * @param projectionPrngKey VeRA's projection_prng_key
 */
public record AdapterSettings(int rank, float alpha, float dropout, List<String> targets, boolean rslora,
        List<String> modulesToSave, String taskType, String baseModel, float veraDInitial, long projectionPrngKey) {
    public static final float DEFAULT_VERA_D_INITIAL = 0.1f;

    public AdapterSettings {
        targets = List.copyOf(targets);
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
    }

    /** Settings of a LoRA-style adapter with VeRA's defaults for the rest. */
    public static AdapterSettings of(int rank, float alpha, float dropout, List<String> targets, boolean rslora,
            String taskType, String baseModel) {
        return new AdapterSettings(rank, alpha, dropout, targets, rslora, null, taskType, baseModel,
                DEFAULT_VERA_D_INITIAL, 0L);
    }
}
