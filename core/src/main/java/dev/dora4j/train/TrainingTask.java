package dev.dora4j.train;

import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterSettings;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.tensor.Tensor;
import dev.dora4j.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;
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

    /** The model's embedding tables by module path, where embedding adapters go; none by default. */
    default Map<String, Embedding> embeddings() {
        return Map.of();
    }

    /** The module path adapters never target (the output head). */
    String outputHead();

    /** Every weight of the model (and head) by name, for full fine-tuning and counting. */
    Map<String, Tensor> allTensors();

    /** Tensors trained whole beside the adapters and saved as PEFT's modules_to_save (the classifier head), or none. */
    Map<String, Tensor> savedModules();

    /** PEFT's {@code modules_to_save} for this task's adapters (the classifier head's names), or none. */
    List<String> modulesToSave();

    /** PEFT's {@code task_type}: CAUSAL_LM or SEQ_CLS. */
    String taskType();

    /** A fresh adapter config of the run's method (the registry's) from the run's settings. */
    default PeftConfig adapterConfig(TrainConfig c, String baseModelName) {
        AdapterOptions o = c.adapterOptions();
        return PeftMethods.named(c.method()).newConfig(new AdapterSettings(c.rank(), c.alpha(), c.dropout(), c.targets(),
                c.rslora(), modulesToSave(), taskType(), baseModelName, o.veraDInitial(), o.projectionPrngKey()));
    }

    Objective objective();

    /** Writes the fully fine-tuned model (config.json and weights) into {@code dir}. */
    void writeModel(Path dir);

    /** Files besides the weights that belong in every output and checkpoint (the classifier's labels), if any. */
    default void writeExtras(Path dir) {
    }
}
