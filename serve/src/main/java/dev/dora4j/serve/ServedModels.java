package dev.dora4j.serve;

import dev.dora4j.model.CausalLM;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The names a request's {@code model} may take: the base model and each loaded adapter. Adapters of a causal LM
 * are {@link ServedAdapter}s; an encoder's adapters live in its {@link EncoderService}.
 */
final class ServedModels {
    private final String baseName;
    private final CausalLM model;
    private final EncoderService encoder;
    private final Map<String, Path> dirs = new LinkedHashMap<>();
    private final Map<String, ServedAdapter> adapters = new LinkedHashMap<>();

    ServedModels(String baseName, CausalLM model, EncoderService encoder) {
        this.baseName = baseName;
        this.model = model;
        this.encoder = encoder;
    }

    String baseName() {
        return baseName;
    }

    /** Loads the adapter in {@code dir} under {@code name}; a taken name is an error. */
    void load(String name, Path dir) {
        synchronized (this) {
            if (name.equals(baseName) || dirs.containsKey(name)) {
                throw ApiError.invalid("lora_name", "the name '" + name + "' is already served");
            }
        }
        ServedAdapter served = model == null ? null : ServedAdapter.load(name, dir, model);
        if (encoder != null) encoder.load(name, dir);
        synchronized (this) {
            dirs.put(name, dir);
            if (served != null) adapters.put(name, served);
        }
    }

    synchronized void unload(String name) {
        if (!dirs.containsKey(name)) throw ApiError.notFound("no adapter named '" + name + "' is loaded");
        dirs.remove(name);
        adapters.remove(name);
        if (encoder != null) encoder.unload(name);
    }

    /** The adapter {@code name} selects (null for the base model); an unknown name is a 404. */
    synchronized ServedAdapter adapter(String name) {
        if (name.equals(baseName)) return null;
        if (!dirs.containsKey(name)) throw ApiError.modelNotFound(name);
        return adapters.get(name);
    }

    /** The adapter names with their directories, in load order. */
    synchronized Map<String, Path> adapterDirs() {
        return new LinkedHashMap<>(dirs);
    }
}
