package dev.dora4j.peft;

import dev.dora4j.tensor.Tensor;

/**
 * One tensor an adapter owns, under the key PEFT stores it by, with the optimizer group it trains in.
 * Several adapters may hold the same frozen tensor (VeRA's shared projections) under the same key.
 */
public record AdapterTensor(String key, Tensor tensor, Group group) {
    /** How a tensor trains: the learning-rate groups of PEFT's LoRA+ and of the DoRA magnitude, or not at all. */
    public enum Group {
        /** The down projection (LoRA's A): the base learning rate. */
        DOWN,
        /** The up projection (LoRA's B): LoRA+ trains it at ratio × the learning rate. */
        UP,
        /** A trained vector (VeRA's λ_b, λ_d): PEFT's LoRA+ puts every 1-D parameter in the B group. */
        VECTOR,
        /** The DoRA magnitude: its own learning-rate ratio (1-D, so in LoRA+'s B group too). */
        MAGNITUDE,
        /** Saved with the adapter, never trained (VeRA's projections). */
        FROZEN
    }

    public boolean trainable() {
        return group != Group.FROZEN;
    }
}
