package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/** Writes a model as a Hugging Face directory: config.json and model.safetensors, atomically. */
public final class LlamaWriter {
    private LlamaWriter() {}

    /**
     * Writes {@code model} to {@code dir}; {@code extraFiles} (name → source file) are copied beside
     * it, e.g. the tokenizer. The directory appears whole or not at all.
     */
    public static void write(LlamaModel model, Path dir, DType dtype, Map<String, Path> extraFiles) {
        checkReplaceable(dir);
        AtomicFiles.writeDirectory(dir, tmp -> {
            writeFiles(model, tmp, dtype);
            for (var e : extraFiles.entrySet()) Files.copy(e.getValue(), tmp.resolve(e.getKey()));
        });
    }

    /**
     * An output directory is replaced whole, so one that exists must be empty or a model directory (with a
     * config.json): anything else is refused rather than deleted.
     */
    static void checkReplaceable(Path dir) {
        if (!Files.isDirectory(dir) || Files.isRegularFile(dir.resolve("config.json"))) return;
        try (Stream<Path> entries = Files.list(dir)) {
            if (entries.findAny().isPresent()) {
                throw new DoraException(dir + ": exists and is not a model directory (no config.json); refusing to"
                        + " replace it, choose a new or empty output directory");
            }
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** Writes {@code config.json} and {@code model.safetensors} into an existing directory, each atomically. */
    public static void writeFiles(LlamaModel model, Path dir, DType dtype) {
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        for (Map.Entry<String, Tensor> e : model.namedTensors().entrySet()) {
            Tensor t = e.getValue();
            long[] shape = new long[t.rank()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.dim(i);
            writer.add(e.getKey(), t.toFloatArray(), shape, dtype);
        }
        writer.write(dir.resolve("model.safetensors"));
        AtomicFiles.writeString(dir.resolve("config.json"), model.config().toJson());
    }
}
