package dev.dora4j.peft;

import dev.dora4j.DoraException;
import dev.dora4j.nn.Dropout;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Puts LoRA/DoRA adapters on a model's linear layers by PEFT's target rules: fresh ones
 * initialised as PEFT initialises them, or ones read from an adapter file.
 */
public final class AdapterInjector {
    private AdapterInjector() {}

    /**
     * The targeted layers among {@code linears} (module path → layer, in model order).
     * {@code outputHead} is the path of the output projection (excluded by {@code all-linear}), or null.
     */
    public static Map<String, Linear> targets(AdapterConfig config, Map<String, Linear> linears, String outputHead,
            String source) {
        Map<String, Linear> out = new LinkedHashMap<>();
        for (String path : targetPaths(config, linears.keySet(), outputHead, source)) out.put(path, linears.get(path));
        return out;
    }

    /** The targeted module paths among {@code paths}, in their order; none is an error naming {@code source}. */
    public static List<String> targetPaths(AdapterConfig config, Collection<String> paths, String outputHead,
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

    /**
     * Attaches fresh trainable adapters: A Kaiming-uniform (a = √5, as {@code nn.Linear}), B zero,
     * and for DoRA the magnitude = ‖W‖ per row (the norm of W + s·B·A with B = 0).
     */
    public static Map<String, LoraAdapter> inject(Map<String, Linear> linears, AdapterConfig config, String outputHead,
            long seed) {
        Map<String, LoraAdapter> adapters = new LinkedHashMap<>();
        for (var e : targets(config, linears, outputHead, AdapterConfig.FILE_NAME).entrySet()) {
            String path = e.getKey();
            Linear layer = e.getValue();
            int r = config.rankFor(path), in = layer.inFeatures(), out = layer.outFeatures();
            SplittableRandom rng = new SplittableRandom(seed ^ (long) path.hashCode() * 0x9E3779B97F4A7C15L);
            float[] a = new float[r * in];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            Tensor magnitude = null;
            if (config.useDora()) {
                magnitude = Tensor.param(DoraNorm.rowNorms(layer.weight().matrix()), out).named(PeftKeys.magnitude(path));
            }
            LoraAdapter adapter = new LoraAdapter(
                    Tensor.param(a, r, in).named(PeftKeys.loraA(path)),
                    Tensor.param(new float[out * r], out, r).named(PeftKeys.loraB(path)),
                    magnitude, config.scalingFor(path), dropout(config, seed, path));
            layer.adapter(adapter);
            adapters.put(path, adapter);
        }
        return adapters;
    }

    /**
     * Attaches the adapters of a loaded file. Every module in the file must exist in the model and
     * every targeted layer must have tensors in the file; shapes must match the layers. Frozen
     * (inference) adapters get no dropout; trainable ones get the config's.
     */
    public static Map<String, LoraAdapter> attach(Map<String, Linear> linears, AdapterFiles.Loaded loaded,
            String outputHead, boolean trainable, long seed) {
        AdapterConfig config = loaded.config();
        String file = loaded.dir().resolve(AdapterFiles.WEIGHTS_FILE).toString();
        Map<String, Linear> targets = targets(config, linears, outputHead, loaded.dir().resolve(AdapterConfig.FILE_NAME).toString());
        for (String path : loaded.modules().keySet()) {
            if (!linears.containsKey(path)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' names module '" + path
                        + "', which the model does not have");
            }
        }
        Map<String, LoraAdapter> adapters = new LinkedHashMap<>();
        for (var e : targets.entrySet()) {
            String path = e.getKey();
            Linear layer = e.getValue();
            AdapterWeights w = loaded.modules().get(path);
            if (w == null) throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' is missing for targeted module");
            if (w.in() != layer.inFeatures() || w.out() != layer.outFeatures()) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' is [" + w.rank() + ", " + w.in()
                        + "] and lora_B [" + w.out() + ", " + w.rank() + "], but the model's weight is "
                        + Arrays.toString(layer.weight().shape()));
            }
            Tensor a = tensor(w.loraA().clone(), trainable, w.rank(), w.in()).named(PeftKeys.loraA(path));
            Tensor b = tensor(w.loraB().clone(), trainable, w.out(), w.rank()).named(PeftKeys.loraB(path));
            Tensor m = w.isDora() ? tensor(w.magnitude().clone(), trainable, w.out()).named(PeftKeys.magnitude(path)) : null;
            LoraAdapter adapter = new LoraAdapter(a, b, m, config.scalingFor(path), trainable ? dropout(config, seed, path) : null);
            layer.adapter(adapter);
            adapters.put(path, adapter);
        }
        return adapters;
    }

    private static Tensor tensor(float[] data, boolean trainable, int... shape) {
        return trainable ? Tensor.param(data, shape) : Tensor.of(data, shape);
    }

    private static Dropout dropout(AdapterConfig config, long seed, String path) {
        return config.loraDropout() > 0f ? new Dropout(config.loraDropout(), seed + 31L * path.hashCode()) : null;
    }
}
