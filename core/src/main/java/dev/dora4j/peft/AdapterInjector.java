package dev.dora4j.peft;

import dev.dora4j.DoraException;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts adapters of any registered method on a model's linear layers by PEFT's target rules: fresh
 * ones initialised as PEFT initialises them, or ones read from an adapter file.
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
        TargetMatcher matcher = TargetMatcher.of(config);
        List<String> out = new ArrayList<>();
        for (String path : paths) if (matcher.matches(path, path.equals(outputHead))) out.add(path);
        if (out.isEmpty()) {
            Object t = config.targetModulesRegex() != null ? "'" + config.targetModulesRegex() + "'" : config.targetModules();
            throw new DoraException(source + ": target_modules " + t + " match no linear layer of the model");
        }
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
                throw new DoraException(file + ": the adapter's tensors for '" + path + "' adapt an embedding, which dora4j"
                        + " merges (merge) but does not run unmerged");
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
