package dev.dora4j.train;

import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a {@link TrainingRun} trains, on one side of the model seam: a causal language model on text
 * ({@link LanguageModelTask}) or a classifier on an encoder ({@link ClassificationTask}). The run itself (adapters,
 * optimizer, checkpoints, metrics, output files) is the same for both.
 */
sealed interface TrainingTask permits LanguageModelTask, ClassificationTask {
    Tokenizer tokenizer();

    /** The sequence length examples were cut to. */
    int seqLen();

    /** The model's linear layers by module path, where adapters go. */
    Map<String, Linear> linears();

    /** The module path adapters never target (the output head). */
    String outputHead();

    /** Every weight of the model (and head) by name, for full fine-tuning and counting. */
    Map<String, Tensor> allTensors();

    /** Tensors trained whole beside the adapters and saved as PEFT's modules_to_save (the classifier head), or none. */
    Map<String, Tensor> savedModules();

    /** A fresh adapter config for this task from the run's settings. */
    AdapterConfig adapterConfig(TrainConfig config, String baseModelName);

    Objective objective();

    /** Writes the fully fine-tuned model (config.json and weights) into {@code dir}. */
    void writeModel(Path dir);

    /** Files besides the weights that belong in every output and checkpoint (the classifier's labels), if any. */
    default void writeExtras(Path dir) {
    }
}
