package dev.dora4j.nn;

import dev.dora4j.autograd.Tape;
import dev.dora4j.tensor.Tensor;

/**
 * How a model runs its linear layers: by default each layer's own forward (with its attached adapter); a server
 * substitutes one that shares the base product over rows and adds each row group's adapter delta.
 */
@FunctionalInterface
public interface LinearForward {
    /** Each layer's own {@link Linear#profiledForward}. */
    LinearForward OWN = (tape, linear, x) -> linear.profiledForward(tape, x);

    /** x: [tokens, in] -> y: [tokens, out]. */
    Tensor forward(Tape tape, Linear linear, Tensor x);
}
