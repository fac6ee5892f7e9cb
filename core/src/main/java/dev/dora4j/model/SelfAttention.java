package dev.dora4j.model;

import dev.dora4j.autograd.Tape;
import dev.dora4j.tensor.Tensor;

/**
 * The attention step of a decoder layer over already rotated queries, keys and values: over whole sequences of a
 * batch (training, evaluation) or over each sequence's {@link KvCache} (decoding).
 */
@FunctionalInterface
public interface SelfAttention {
    /** q: [rows, heads·D], k, v: [rows, kvHeads·D] of decoder layer {@code layer} -> [rows, heads·D]. */
    Tensor attend(Tape tape, int layer, Tensor q, Tensor k, Tensor v);
}
