package dev.dora4j.serve;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@code dora4j serve} serves and how: the model directory, adapters by name, the address, the API key (null
 * for none), whether adapters may be loaded at run time, the name the base model is served under, the pooling of
 * embeddings and the engine's bounds.
 */
public record ServeOptions(Path model, Path tokenizer, Map<String, Path> adapters, String host, int port, String apiKey,
        boolean allowAdapterLoading, String servedModelName, String pooling, EngineSettings engine) {
    public ServeOptions {
        adapters = new LinkedHashMap<>(adapters);
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in 0..65535, got " + port);
    }

    /** The name the base model answers to: --served-model-name, else the model directory's name. */
    public String baseName() {
        return servedModelName != null ? servedModelName : model.toAbsolutePath().normalize().getFileName().toString();
    }
}
