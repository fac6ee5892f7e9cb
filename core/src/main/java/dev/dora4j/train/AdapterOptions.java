package dev.dora4j.train;

import dev.dora4j.peft.AdapterSettings;

/**
 * Training options that only some adapter methods read.
 *
 * @param loraplusLrRatio   LoRA+ (PEFT's {@code create_loraplus_optimizer}): the up projections (LoRA's B) and every
 *                          trained vector (DoRA's magnitude, VeRA's λ) learn at ratio × lr; 1 is plain training
 * @param veraDInitial      VeRA/DVoRA: the initial value of λ_d ({@code d_initial})
 * @param projectionPrngKey VeRA/DVoRA: the seed of the shared projections ({@code projection_prng_key})
 */
public record AdapterOptions(float loraplusLrRatio, float veraDInitial, long projectionPrngKey) {
    public static final AdapterOptions DEFAULT = new AdapterOptions(1f, AdapterSettings.DEFAULT_VERA_D_INITIAL, 0L);

    public AdapterOptions {
        if (!(loraplusLrRatio > 0)) throw new IllegalArgumentException("--loraplus-lr-ratio must be positive, got " + loraplusLrRatio);
        if (!Float.isFinite(veraDInitial)) throw new IllegalArgumentException("--vera-d-initial must be finite, got " + veraDInitial);
    }
}
