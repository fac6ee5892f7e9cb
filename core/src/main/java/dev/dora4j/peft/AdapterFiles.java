package dev.dora4j.peft;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes adapters in PEFT's format: {@code adapter_config.json} beside
 * {@code adapter_model.safetensors} whose keys are {@code base_model.model.<path>.lora_A.weight},
 * {@code .lora_B.weight} and {@code .lora_magnitude_vector}.
 */
public final class AdapterFiles {
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    /**
     * An adapter as read from disk: its config, its LoRA/DoRA tensors per module path in file order, and the whole
     * tensors of its {@code modules_to_save} (e.g. a classifier head) by module-relative name ({@code classifier.weight}).
     */
    public record Loaded(Path dir, AdapterConfig config, Map<String, AdapterWeights> modules, Map<String, Saved> saved) {
        public Loaded(Path dir, AdapterConfig config, Map<String, AdapterWeights> modules) {
            this(dir, config, modules, Map.of());
        }
    }

    /** One tensor of a module saved whole. */
    public record Saved(String name, float[] values, long[] shape) {}

    private AdapterFiles() {}

    public static Loaded read(Path dir) {
        if (!Files.isDirectory(dir)) throw new DoraException(dir + ": adapter directory not found");
        AdapterConfig config = AdapterConfig.read(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            String hint = Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a pickle file, which is never loaded: save the adapter with safe_serialization)"
                    : "";
            throw new DoraException(file + ": adapter weights not found" + hint);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, float[]> a = new LinkedHashMap<>(), b = new LinkedHashMap<>(), m = new LinkedHashMap<>();
            Map<String, TensorInfo> aInfo = new TreeMap<>(), bInfo = new TreeMap<>();
            Map<String, Saved> saved = new LinkedHashMap<>();
            for (TensorInfo t : st.tensors()) {
                String name = t.name();
                if (!name.startsWith(PeftKeys.PREFIX)) {
                    throw new DoraException(file + ": tensor '" + name + "' does not start with '" + PeftKeys.PREFIX + "'");
                }
                String rest = name.substring(PeftKeys.PREFIX.length());
                if (isSavedModule(rest, config)) {
                    saved.put(rest, new Saved(rest, finite(st.readFloats(name), file, t), t.shape()));
                } else if (rest.endsWith(PeftKeys.LORA_A)) {
                    String path = strip(rest, PeftKeys.LORA_A);
                    a.put(path, readMatrix(st, t, file));
                    aInfo.put(path, t);
                } else if (rest.endsWith(PeftKeys.LORA_B)) {
                    String path = strip(rest, PeftKeys.LORA_B);
                    b.put(path, readMatrix(st, t, file));
                    bInfo.put(path, t);
                } else if (rest.endsWith(PeftKeys.MAGNITUDE) || rest.endsWith(PeftKeys.MAGNITUDE_WITH_WEIGHT)) {
                    String path = strip(strip(rest, ".weight"), PeftKeys.MAGNITUDE);
                    if (t.shape().length != 1) {
                        throw new DoraException(file + ": tensor '" + name + "' must be 1-D, has shape " + Arrays.toString(t.shape()));
                    }
                    m.put(path, finite(st.readFloats(name), file, t));
                } else {
                    throw new DoraException(file + ": tensor '" + name + "' is not a LoRA/DoRA tensor (lora_A, lora_B, lora_magnitude_vector)"
                            + " nor in a module of modules_to_save " + config.modulesToSave());
                }
            }
            Map<String, AdapterWeights> modules = new LinkedHashMap<>();
            for (String path : a.keySet()) {
                if (!b.containsKey(path)) throw new DoraException(file + ": tensor '" + PeftKeys.loraB(path) + "' is missing");
                long[] as = aInfo.get(path).shape(), bs = bInfo.get(path).shape();
                int rank = (int) as[0], in = (int) as[1], out = (int) bs[0];
                if (bs[1] != rank) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.loraB(path) + "' has shape " + Arrays.toString(bs)
                            + " but lora_A has rank " + rank);
                }
                int expectedRank = config.rankFor(path);
                if (rank != expectedRank) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' has rank " + rank
                            + " but adapter_config.json gives r = " + expectedRank + " for this module");
                }
                float[] mag = m.remove(path);
                if (config.useDora() && mag == null) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' is missing (use_dora is true)");
                }
                if (!config.useDora() && mag != null) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' present but use_dora is false");
                }
                if (mag != null && mag.length != out) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' has " + mag.length
                            + " entries but lora_B has " + out + " rows");
                }
                modules.put(path, new AdapterWeights(path, a.get(path), b.get(path), mag, rank, in, out));
            }
            for (String path : b.keySet()) {
                if (!a.containsKey(path)) throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' is missing");
            }
            if (!m.isEmpty()) {
                String path = m.keySet().iterator().next();
                throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' has no lora_A/lora_B beside it");
            }
            if (modules.isEmpty()) throw new DoraException(file + ": holds no adapter tensors");
            return new Loaded(dir, config, modules, saved);
        }
    }

    /** Writes config and tensors as a complete directory, atomically. */
    public static void write(Path dir, AdapterConfig config, Map<String, LoraAdapter> adapters) {
        AtomicFiles.writeDirectory(dir, tmp -> writeFiles(tmp, config, adapters));
    }

    /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} into {@code dir}, each atomically. */
    public static void writeFiles(Path dir, AdapterConfig config, Map<String, LoraAdapter> adapters) {
        writeFiles(dir, config, adapters, Map.of());
    }

    /**
     * As {@link #writeFiles(Path, AdapterConfig, Map)}, with whole tensors of {@code modules_to_save} by module-relative
     * name ({@code classifier.weight}), stored as PEFT stores them: {@code base_model.model.classifier.weight}.
     */
    public static void writeFiles(Path dir, AdapterConfig config, Map<String, LoraAdapter> adapters, Map<String, Tensor> saved) {
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        for (var e : adapters.entrySet()) {
            String path = e.getKey();
            LoraAdapter ad = e.getValue();
            writer.add(PeftKeys.loraA(path), ad.loraA().data(), longShape(ad.loraA().shape()), DType.F32);
            writer.add(PeftKeys.loraB(path), ad.loraB().data(), longShape(ad.loraB().shape()), DType.F32);
            if (ad.isDora()) {
                writer.add(PeftKeys.magnitude(path), ad.magnitude().data(), longShape(ad.magnitude().shape()), DType.F32);
            }
        }
        for (var e : saved.entrySet()) {
            if (!isSavedModule(e.getKey(), config)) {
                throw new IllegalArgumentException(e.getKey() + " is not in a module of modules_to_save " + config.modulesToSave());
            }
            writer.add(PeftKeys.PREFIX + e.getKey(), e.getValue().toFloatArray(), longShape(e.getValue().shape()), DType.F32);
        }
        writer.write(dir.resolve(WEIGHTS_FILE));
        AtomicFiles.writeString(dir.resolve(AdapterConfig.FILE_NAME), config.toJsonString());
    }

    /**
     * Whether {@code key} (a tensor name after {@code base_model.model.}) belongs to a module listed in
     * {@code modules_to_save}: PEFT wraps every module whose path is that name or ends with {@code .name}.
     */
    static boolean isSavedModule(String key, AdapterConfig config) {
        int dot = key.lastIndexOf('.');
        if (dot < 0) return false;
        String module = key.substring(0, dot);
        for (String m : config.modulesToSave()) {
            if (module.equals(m) || module.endsWith("." + m)) return true;
        }
        return false;
    }

    private static float[] readMatrix(SafetensorsFile st, TensorInfo t, Path file) {
        if (t.shape().length != 2) {
            throw new DoraException(file + ": tensor '" + t.name() + "' must be 2-D, has shape " + Arrays.toString(t.shape()));
        }
        return finite(st.readFloats(t.name()), file, t);
    }

    /** Adapter tensors must be finite: a NaN or infinity is reported with its tensor, never applied. */
    private static float[] finite(float[] values, Path file, TensorInfo t) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new DoraException(file + ": tensor '" + t.name() + "' holds a non-finite value (" + values[i] + ", "
                        + t.dtypeName() + ") at index " + i);
            }
        }
        return values;
    }

    private static String strip(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }

    private static long[] longShape(int[] shape) {
        long[] l = new long[shape.length];
        for (int i = 0; i < shape.length; i++) l[i] = shape[i];
        return l;
    }
}
