package dev.dora4j.faults;

import dev.dora4j.DoraException;
import dev.dora4j.data.DatasetReader;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.TargetMatcher;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The readers under fuzzing, each fed arbitrary bytes as the content of its file. A target returns normally
 * when the reader accepts the input or refuses it with a {@link DoraException} that has a message; any other
 * exception or error escapes and is a finding.
 */
final class ReaderTargets {
    /** The fuzz targets, named as their corpus directories under {@code src/test/resources/fuzz/}. */
    static final String SAFETENSORS = "safetensors";
    static final String ADAPTER_CONFIG = "adapter_config";
    static final String LLAMA_CONFIG = "llama_config";
    static final String DATASET = "dataset";

    private static final String[] MODULE_PATHS = {
        "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj", "lm_head"};
    private static Path scratch;

    private ReaderTargets() {
    }

    static void run(String target, byte[] input) {
        switch (target) {
            case SAFETENSORS -> safetensors(input);
            case ADAPTER_CONFIG -> adapterConfig(input);
            case LLAMA_CONFIG -> llamaConfig(input);
            case DATASET -> dataset(input);
            default -> throw new IllegalArgumentException("no fuzz target " + target);
        }
    }

    /** Opens the bytes as a safetensors file and reads every tensor: as floats where it can, raw otherwise. */
    static void safetensors(byte[] input) {
        Path file = write("model.safetensors", input);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (TensorInfo tensor : st.tensors()) {
                if (tensor.dtype() != null) {
                    float[] values = st.readFloats(tensor.name());
                    if (values.length != tensor.numel()) {
                        throw new AssertionError(tensor + " read " + values.length + " values");
                    }
                } else if (st.data(tensor.name()).byteSize() != tensor.byteSize()) {
                    throw new AssertionError(tensor + " has a slice of the wrong size");
                }
            }
        } catch (DoraException refused) {
            checkMessage(refused);
        }
    }

    /** Reads the bytes as adapter_config.json, then asks the config what injection and saving ask. */
    static void adapterConfig(byte[] input) {
        Path dir = write(AdapterConfig.FILE_NAME, input).getParent();
        try {
            AdapterConfig config = AdapterConfig.read(dir);
            TargetMatcher matcher = TargetMatcher.of(config);
            for (String path : MODULE_PATHS) {
                matcher.matches(path, path.equals("lm_head"));
                config.scalingFor(path);
            }
            config.toJsonString();
        } catch (DoraException refused) {
            checkMessage(refused);
        }
    }

    /** Reads the bytes as a model's config.json and writes it back. */
    static void llamaConfig(byte[] input) {
        Path file = write("config.json", input);
        try {
            LlamaConfig.read(file).toJson();
        } catch (DoraException refused) {
            checkMessage(refused);
        }
    }

    /** Reads the bytes as a JSON or JSONL data file. */
    static void dataset(byte[] input) {
        Path file = write("data.jsonl", input);
        try {
            DatasetReader.read(file);
        } catch (DoraException refused) {
            checkMessage(refused);
        }
    }

    private static void checkMessage(DoraException refused) {
        String message = refused.getMessage();
        if (message == null || message.isBlank()) {
            throw new AssertionError("a refusal without a message", refused);
        }
    }

    private static synchronized Path write(String name, byte[] content) {
        try {
            if (scratch == null) {
                scratch = Files.createTempDirectory("dora4j-fuzz");
                scratch.toFile().deleteOnExit();
            }
            Path file = scratch.resolve(name);
            if (!Files.exists(file)) {
                file.toFile().deleteOnExit();
            }
            Files.write(file, content);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
