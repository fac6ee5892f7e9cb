package dev.dora4j.train;

import java.util.List;

/**
 * Combines the ranks of a data-parallel run once per optimizer step, after each rank's forward and backward over its
 * shard of the global batch: every trainable gradient becomes the sum over the ranks, and so do the step's loss and
 * token count. Every rank must end with bit-identical sums (a fixed reduction order), so that all apply the same update.
 */
@FunctionalInterface
public interface GradientReducer {
    /** One rank's (or, returned, the whole gang's) loss and token count of a step. */
    record Totals(double loss, long tokens) {}

    /** Replaces the gradients of {@code parameters} by their sums over the ranks; returns the summed totals. */
    Totals allReduce(long step, List<Parameter> parameters, Totals local);
}
