package dev.dora4j.model;

import dev.dora4j.autograd.Tape;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.Map;

/** A bidirectional encoder (the BERT family): packed sequences in, last hidden states and pooled sentences out. */
public interface EncoderModel extends NamedWeights {
    /** The {@code model_type} of its config.json. */
    String modelType();

    int hiddenSize();

    /** The longest sequence the model takes ({@code max_position_embeddings}). */
    int contextLength();

    /** Every linear layer by module path, in model order. */
    Map<String, Linear> linears();

    /** Recomputes each layer in backward instead of keeping its activations. */
    void activationCheckpointing(boolean on);

    /** ids packed end to end, offsets [batch + 1], tokenTypes null = all 0 -> last hidden state [N, hidden]. */
    Tensor hidden(Tape tape, int[] ids, int[] tokenTypes, int[] offsets);

    /** "mean" or "cls" pooling of {@link #hidden}'s output -> [batch, hidden]. */
    Tensor pool(Tape tape, Tensor hidden, int[] offsets, String pooling);
}
