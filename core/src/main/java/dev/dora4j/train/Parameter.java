package dev.dora4j.train;

import dev.dora4j.tensor.Tensor;

/**
 * A trainable tensor with its name (PEFT key or Hugging Face name), whether weight decay applies to
 * it, and the factor on the learning rate for its group (the DoRA magnitude's ratio, else 1).
 */
public record Parameter(String name, Tensor tensor, boolean decay, float lrScale) {
    public Parameter {
        if (!tensor.requiresGrad()) throw new IllegalArgumentException(name + " is not trainable");
    }
}
