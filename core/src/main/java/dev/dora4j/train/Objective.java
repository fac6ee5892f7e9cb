package dev.dora4j.train;

import dev.dora4j.eval.Score;
import dev.dora4j.nn.Linear;
import java.util.Map;

/**
 * What the {@link Trainer} optimises: a model, the loss of its training examples and a held-out score. The trainer
 * owns batching, accumulation, clipping, the optimizer and checkpoints; an objective owns the forward and backward.
 */
public interface Objective {
    /** The number of training examples. */
    int size();

    /** How many loss terms example {@code i} adds (target tokens, or 1 for a classified sequence). */
    int targets(int i);

    /** How many tokens example {@code i} feeds the model. */
    int tokens(int i);

    /**
     * Forward and backward of the examples {@code indices}: their summed loss divided by {@code normalizer},
     * accumulated into the gradients. Returns that loss.
     */
    double forwardBackward(int[] indices, float normalizer);

    /** The held-out score, or null when there is no held-out data; called with dropout off. */
    Score evaluate(int batchSize);

    /** Every linear layer by module path (for the dropout streams of their adapters). */
    Map<String, Linear> linears();
}
