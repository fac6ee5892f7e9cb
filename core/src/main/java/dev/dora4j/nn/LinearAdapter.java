package dev.dora4j.nn;

import dev.dora4j.autograd.Tape;
import dev.dora4j.tensor.Tensor;

/**
 * Something that replaces a frozen linear layer's forward pass, such as a LoRA or DoRA adapter.
 * It owns its trainable tensors and records its own backward on the tape.
 */
public interface LinearAdapter {
    /**
     * x: [tokens, in] -> y: [tokens, out], including the base layer's output and bias. A backward that needs x's values
     * reads them through {@code x} when it runs (they may have been given back and computed again in between: see
     * {@code Tape.release}), never through an array kept from forward.
     */
    Tensor forward(Tape tape, Linear base, Tensor x);

    /** Folds the adapter into {@code base}'s weight in place. */
    void merge(Linear base);

    /** Undoes {@link #merge}, restoring the weight to float tolerance. */
    void unmerge(Linear base);

    /** The name {@link Linear#profiledForward} times this adapter's forward and backward under, e.g. "lora". */
    default String opName() {
        return "adapter";
    }

    /** The dropout on the adapter's input, or null. */
    default Dropout dropout() {
        return null;
    }
}
