package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The architectures dora4j knows, by config.json's {@code model_type}: for each its config reader, loader and
 * writer, and whether it is a causal LM or an encoder. Commands load models through here, so a new architecture
 * is one more entry.
 */
public final class ModelRegistry {
    /** Writes a model's {@code config.json} and {@code model.safetensors} into an existing directory. */
    @FunctionalInterface
    public interface Writer<M> {
        void write(M model, Path dir, DType dtype);
    }

    /** One architecture family: its config record reader, loader and writer. */
    public record Family<M extends NamedWeights>(String name, List<String> modelTypes, Class<M> kind,
            Function<Path, Record> config, BiFunction<Path, LinearStorage, M> loader, Writer<M> writer) {}

    public static final Family<CausalLM> LLAMA = new Family<>("llama", List.copyOf(LlamaConfig.MODEL_TYPES), CausalLM.class,
            dir -> LlamaConfig.read(dir.resolve("config.json")), LlamaLoader::load,
            (m, dir, dtype) -> LlamaWriter.writeFiles((LlamaModel) m, dir, dtype));
    public static final Family<EncoderModel> BERT = new Family<>("bert", List.of(BertConfig.MODEL_TYPE), EncoderModel.class,
            dir -> BertConfig.read(dir.resolve("config.json")), BertLoader::load,
            (m, dir, dtype) -> BertWriter.writeFiles((BertModel) m, dir, dtype));

    private static final Map<String, Family<?>> BY_TYPE = new LinkedHashMap<>();

    static {
        for (Family<?> f : List.of(LLAMA, BERT)) for (String t : f.modelTypes()) BY_TYPE.put(t, f);
    }

    private ModelRegistry() {}

    /** The family of {@code path} (a model directory, or a llama2.c checkpoint file) by its {@code model_type}. */
    public static Family<?> family(Path path) {
        String type = ModelTypes.modelType(path);
        Family<?> f = BY_TYPE.get(type);
        if (f == null) {
            throw new DoraException(path.resolve("config.json") + ": model_type '" + type + "' is not supported (known: "
                    + String.join(", ", BY_TYPE.keySet()) + ")");
        }
        return f;
    }

    /** Loads the causal language model at {@code path}, weights as stored; an encoder or unknown type is an error naming the file. */
    public static CausalLM causalLM(Path path) {
        return causalLM(path, LinearStorage.AS_STORED);
    }

    /** As {@link #causalLM(Path)}, the layers' linear weights kept as {@code storage} says. */
    public static CausalLM causalLM(Path path, LinearStorage storage) {
        return load(path, storage, CausalLM.class, "a causal language model");
    }

    /** Loads the encoder at {@code path}; a causal LM or unknown type is an error naming the file. */
    public static EncoderModel encoder(Path path, LinearStorage storage) {
        return load(path, storage, EncoderModel.class, "an encoder (BERT family)");
    }

    /** True when {@code path} holds a causal language model. */
    public static boolean isCausalLM(Path path) {
        return family(path).kind() == CausalLM.class;
    }

    private static <M extends NamedWeights> M load(Path path, LinearStorage storage, Class<M> kind, String what) {
        Family<?> f = family(path);
        if (f.kind() != kind) {
            throw new DoraException(path + ": a " + f.name() + " model (model_type '" + ModelTypes.modelType(path)
                    + "'), not " + what);
        }
        return kind.cast(f.loader().apply(path, storage));
    }
}
