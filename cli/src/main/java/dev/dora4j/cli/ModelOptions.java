package dev.dora4j.cli;

import dev.dora4j.model.BundledModel;
import dev.dora4j.model.CausalLM;
import dev.dora4j.model.ModelRegistry;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.tokenizer.Tokenizer;
import dev.dora4j.tokenizer.Tokenizers;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options of every command that loads a model: --model, --tokenizer and --threads. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "PATH",
            description = "Hugging Face model directory or llama2.c checkpoint (.bin). Default: the bundled stories260K.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "Tokenizer file (tokenizer.json or llama2.c tokenizer.bin). Default: found beside the model.")
    Path tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Mixin
    StorageOptions storage;

    Path modelPath() {
        return model != null ? model : BundledModel.checkpoint();
    }

    void applyThreads() {
        if (threads != null) dev.dora4j.kernel.Parallel.setThreads(threads);
    }

    CausalLM loadModel() {
        applyThreads();
        return ModelRegistry.causalLM(modelPath(), storage.storage());
    }

    Tokenizer loadTokenizer() {
        return Tokenizers.load(modelPath(), tokenizer);
    }

    /** Attaches a PEFT adapter for inference (frozen, no dropout), unmerged. */
    static void attachAdapter(CausalLM model, Path adapter) {
        AdapterInjector.attach(model.linears(), model.embeddings(), AdapterFiles.read(adapter), model.outputHead(), false, 0);
    }
}
