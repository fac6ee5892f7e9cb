package dev.dora4j.model;

import dev.dora4j.tensor.Tensor;
import java.util.Map;

/** A model whose weights are known by their Hugging Face names. */
public interface NamedWeights {
    /** Every weight by its Hugging Face name, in file order. */
    Map<String, Tensor> namedTensors();

    /** Marks every weight trainable or frozen (full fine-tuning). */
    default void trainAll(boolean on) {
        for (Tensor t : namedTensors().values()) t.requiresGrad(on);
    }

    /** The number of values over all weights. */
    default long parameterCount() {
        long n = 0;
        for (Tensor t : namedTensors().values()) n += t.numel();
        return n;
    }
}
