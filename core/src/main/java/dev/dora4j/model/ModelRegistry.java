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

    public static final Family<CausalLM> LLAMA = new Family<>("llama", LlamaConfig.MODEL_TYPES.stream().sorted().toList(), CausalLM.class,
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
        return load(path, storage, CausalLM.class);
    }

    /** Loads the encoder at {@code path}; a causal LM or unknown type is an error naming the file. */
    public static EncoderModel encoder(Path path, LinearStorage storage) {
        return load(path, storage, EncoderModel.class);
    }

    /** True when {@code path} holds a causal language model. */
    public static boolean isCausalLM(Path path) {
        return family(path).kind() == CausalLM.class;
    }

    /** Writes {@code model} with the writer of its {@code model_type}'s family. */
    public static void writeCausalLM(CausalLM model, Path dir, DType dtype) {
        Family<?> f = BY_TYPE.get(model.modelType());
        if (f == null || f.kind() != CausalLM.class) throw new DoraException("no writer for model_type '" + model.modelType() + "'");
        @SuppressWarnings("unchecked")
        Family<CausalLM> causal = (Family<CausalLM>) f;
        causal.writer().write(model, dir, dtype);
    }

    private static <M extends NamedWeights> M load(Path path, LinearStorage storage, Class<M> kind) {
        String type = ModelTypes.modelType(path);
        Family<?> f = BY_TYPE.get(type);
        if (f == null || f.kind() != kind) {
            String supported = BY_TYPE.entrySet().stream().filter(e -> e.getValue().kind() == kind).map(Map.Entry::getKey)
                    .collect(java.util.stream.Collectors.joining(", "));
            String hint = f != null && kind == CausalLM.class
                    ? "; BERT encoders are trained with --task classify and embed with the embed command" : "";
            throw new DoraException(path.resolve("config.json") + ": model_type '" + type + "' is not supported (supported: "
                    + supported + ")" + hint);
        }
        return kind.cast(f.loader().apply(path, storage));
    }
}
