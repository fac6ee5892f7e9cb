package dev.dora4j.peft;

import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearAdapter;

/**
 * An adapter of some PEFT method on one frozen linear layer: it describes its own tensors under their PEFT
 * keys ({@link ModuleAdapter}) and knows its forward, backward, merge and unmerge (as {@link LinearAdapter}).
 * Everything above the adapters (injection, files, trainer, checkpoints, merge, analysis) goes through this.
 */
public interface Adapter extends ModuleAdapter, LinearAdapter {
    /** Checks that this adapter fits {@code base}, naming the module when it does not. */
    void checkFits(Linear base);

    /**
     * Holds a norm that the forward pass recomputes from trained tensors (DoRA's ‖W + ΔW‖) at its current value,
     * or lets it follow them again. With the norm detached in backward this makes the function whose gradient
     * backward computes observable, for checks by finite differences. Methods without such a norm ignore it.
     */
    default void holdNorm(Linear base, boolean hold) {}
}
