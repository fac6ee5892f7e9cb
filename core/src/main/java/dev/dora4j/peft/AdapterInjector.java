package dev.dora4j.peft;

import dev.dora4j.DoraException;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.EmbeddingAdapter;
import dev.dora4j.nn.Linear;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts adapters of any registered method on a model's linear layers (and embedding tables, where the method adapts
 * them) by PEFT's target rules: fresh ones initialised as PEFT initialises them, or ones read from an adapter file.
 */
public final class AdapterInjector {
    private AdapterInjector() {}

    /**
     * The targeted layers among {@code linears} (module path → layer, in model order).
     * {@code outputHead} is the path of the output projection (excluded by {@code all-linear}), or null.
     */
    public static Map<String, Linear> targets(PeftConfig config, Map<String, Linear> linears, String outputHead,
            String source) {
        Map<String, Linear> out = new LinkedHashMap<>();
        for (String path : targetPaths(config, linears.keySet(), outputHead, source)) out.put(path, linears.get(path));
        return out;
    }

    /** The targeted module paths among {@code paths}, in their order; none is an error naming {@code source}. */
    public static List<String> targetPaths(PeftConfig config, Collection<String> paths, String outputHead,
            String source) {
        List<String> out = matching(config, paths, outputHead);
        if (out.isEmpty()) {
            Object t = config.targetModulesRegex() != null ? "'" + config.targetModulesRegex() + "'" : config.targetModules();
            throw new DoraException(source + ": target_modules " + t + " match no linear layer of the model");
        }
        return out;
    }

    /**
     * Attaches fresh trainable adapters to the targeted linear layers and embedding tables (path → adapter, the tables
     * first, in model order).
     */
    public static Map<String, ModuleAdapter> inject(Map<String, Linear> linears, Map<String, Embedding> embeddings,
            PeftConfig config, String outputHead, long seed) {
        Map<String, Embedding> tables = targetTables(config, embeddings);
        Map<String, ModuleAdapter> adapters = new LinkedHashMap<>();
        if (!tables.isEmpty()) {
            for (var e : config.method().createEmbeddings(config, tables, seed).entrySet()) {
                tables.get(e.getKey()).adapter((EmbeddingAdapter) e.getValue());
                adapters.put(e.getKey(), e.getValue());
            }
        }
        if (tables.isEmpty() || matchesAnyLinear(config, linears, outputHead)) adapters.putAll(inject(linears, config, outputHead, seed));
        return adapters;
    }

    /**
     * Attaches the adapters of a loaded file to the model's linear layers and embedding tables, checked as
     * {@link #attach(Map, AdapterFiles.Loaded, String, boolean, long)} checks them; a saved copy of a base table
     * must equal the model's.
     */
    public static Map<String, ModuleAdapter> attach(Map<String, Linear> linears, Map<String, Embedding> embeddings,
            AdapterFiles.Loaded loaded, String outputHead, boolean trainable, long seed) {
        PeftConfig config = loaded.config();
        String file = loaded.dir().resolve(AdapterFiles.WEIGHTS_FILE).toString();
        Map<String, Embedding> tables = targetTables(config, embeddings);
        Map<String, ModuleWeights> tableModules = new LinkedHashMap<>(), linearModules = new LinkedHashMap<>();
        for (var e : loaded.modules().entrySet()) {
            boolean isTable = e.getValue().kind() == ModuleWeights.Kind.EMBEDDING;
            if (isTable && !embeddings.containsKey(e.getKey())) {
                throw new DoraException(file + ": the adapter's tensors for '" + e.getKey() + "' adapt an embedding the model does"
                        + " not have");
            }
            (isTable ? tableModules : linearModules).put(e.getKey(), e.getValue());
        }
        for (String path : tableModules.keySet()) {
            if (!tables.containsKey(path)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.embeddingA(path) + "' adapts '" + path + "', which"
                        + " target_modules " + config.targetModules() + " does not select");
            }
        }
        for (var e : tables.entrySet()) {
            ModuleWeights w = tableModules.get(e.getKey());
            if (w == null) {
                throw new DoraException(file + ": tensor '" + PeftKeys.embeddingA(e.getKey()) + "' is missing for targeted module");
            }
            if (!w.fits(e.getValue().vocabSize(), e.getValue().hiddenSize())) {
                throw new DoraException(file + ": tensor '" + PeftKeys.embeddingA(e.getKey()) + "' is " + w.shapes()
                        + ", but the model's table is " + Arrays.toString(e.getValue().table().shape()));
            }
        }
        Map<String, ModuleAdapter> adapters = new LinkedHashMap<>();
        if (!tables.isEmpty()) {
            for (var e : config.method().attachEmbeddings(config, tableModules, tables, trainable).entrySet()) {
                tables.get(e.getKey()).adapter((EmbeddingAdapter) e.getValue());
                adapters.put(e.getKey(), e.getValue());
            }
        }
        if (tables.isEmpty() || !linearModules.isEmpty() || matchesAnyLinear(config, linears, outputHead)) {
            adapters.putAll(attach(linears, new AdapterFiles.Loaded(loaded.dir(), config, linearModules, loaded.saved(),
                    loaded.tensors()), outputHead, trainable, seed));
        }
        return adapters;
    }

    /** The embedding tables among {@code embeddings} that the config targets, in model order. */
    private static Map<String, Embedding> targetTables(PeftConfig config, Map<String, Embedding> embeddings) {
        Map<String, Embedding> out = new LinkedHashMap<>();
        for (String path : matching(config, embeddings.keySet(), null)) out.put(path, embeddings.get(path));
        return out;
    }

    private static boolean matchesAnyLinear(PeftConfig config, Map<String, Linear> linears, String outputHead) {
        return !matching(config, linears.keySet(), outputHead).isEmpty();
    }

    /** The paths the config targets, in their order ({@code outputHead} only when named explicitly). */
    private static List<String> matching(PeftConfig config, Collection<String> paths, String outputHead) {
        TargetMatcher matcher = TargetMatcher.of(config);
        List<String> out = new ArrayList<>();
        for (String path : paths) if (matcher.matches(path, path.equals(outputHead))) out.add(path);
        return out;
    }

    /** Attaches fresh trainable adapters of the config's method to the targeted layers. */
    public static Map<String, Adapter> inject(Map<String, Linear> linears, PeftConfig config, String outputHead,
            long seed) {
        Map<String, Linear> targets = targets(config, linears, outputHead, AdapterConfig.FILE_NAME);
        Map<String, Adapter> adapters = config.method().create(config, targets, seed);
        adapters.forEach((path, adapter) -> targets.get(path).adapter(adapter));
        return adapters;
    }

    /**
     * Attaches the adapters of a loaded file. Every module in the file must exist in the model and
     * every targeted layer must have tensors in the file; shapes must match the layers. Frozen
     * (inference) adapters get no dropout; trainable ones get the config's.
     */
    public static Map<String, Adapter> attach(Map<String, Linear> linears, AdapterFiles.Loaded loaded,
            String outputHead, boolean trainable, long seed) {
        PeftConfig config = loaded.config();
        PeftMethod method = config.method();
        String file = loaded.dir().resolve(AdapterFiles.WEIGHTS_FILE).toString();
        for (var e : loaded.modules().entrySet()) {
            String path = e.getKey();
            if (e.getValue().kind() == ModuleWeights.Kind.EMBEDDING) {
                throw new DoraException(file + ": the adapter's tensors for '" + path + "' adapt an embedding, which this"
                        + " model or server runs only merged: merge the adapter into the model first (dora4j merge)");
            }
            if (!linears.containsKey(path)) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(path) + "' names module '" + path
                        + "', which the model does not have");
            }
        }
        Map<String, Linear> targets = targets(config, linears, outputHead, loaded.dir().resolve(AdapterConfig.FILE_NAME).toString());
        for (var e : targets.entrySet()) {
            String path = e.getKey();
            Linear layer = e.getValue();
            ModuleWeights w = loaded.modules().get(path);
            if (w == null) throw new DoraException(file + ": tensor '" + method.moduleKey(path) + "' is missing for targeted module");
            if (!w.fits(layer.outFeatures(), layer.inFeatures())) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(path) + "' is " + w.shapes()
                        + ", but the model's weight is " + Arrays.toString(layer.weight().shape()));
            }
        }
        Map<String, Adapter> adapters = method.attach(config, loaded.modules(), targets, trainable, seed);
        adapters.forEach((path, adapter) -> targets.get(path).adapter(adapter));
        return adapters;
    }

    /** The config's dropout on the input of the adapter at {@code path}, seeded per module, or null for none. */
    public static Dropout dropout(PeftConfig config, long seed, String path) {
        return config.dropout() > 0f ? new Dropout(config.dropout(), seed + 31L * path.hashCode()) : null;
    }
}
