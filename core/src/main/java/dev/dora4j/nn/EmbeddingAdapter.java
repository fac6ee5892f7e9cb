package dev.dora4j.nn;

import dev.dora4j.autograd.Tape;
import dev.dora4j.tensor.Tensor;

/**
 * Something that replaces a frozen embedding table's lookup, such as PEFT's LoRA or DoRA on {@code embed_tokens}.
 * It owns its trainable tensors and records its own backward on the tape.
 */
public interface EmbeddingAdapter {
    /** ids: [tokens] -> y: [tokens, hidden], including the base table's rows. */
    Tensor forward(Tape tape, Embedding base, int[] ids);

    /** Folds the adapter into {@code base}'s table in place. */
    void merge(Embedding base);

    /** Undoes {@link #merge}, restoring the table to float tolerance. */
    void unmerge(Embedding base);
}
