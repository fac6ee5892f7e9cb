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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Reads and writes adapters of any registered method in PEFT's format: {@code adapter_config.json}
 * beside {@code adapter_model.safetensors}, whose keys each method names (LoRA:
 * {@code base_model.model.<path>.lora_A.weight}, {@code .lora_B.weight}, {@code .lora_magnitude_vector}).
 */
public final class AdapterFiles {
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    /**
     * An adapter as read from disk: its config, its tensors grouped per module path in file order, the whole
     * tensors of its {@code modules_to_save} (e.g. a classifier head) by module-relative name ({@code classifier.weight}),
     * and every adapter tensor by its key.
     */
    public record Loaded(Path dir, PeftConfig config, Map<String, ModuleWeights> modules, Map<String, Saved> saved,
            Map<String, float[]> tensors) {
        public Loaded(Path dir, PeftConfig config, Map<String, ModuleWeights> modules) {
            this(dir, config, modules, Map.of(), Map.of());
        }
    }

    /** One tensor of a module saved whole. */
    public record Saved(String name, float[] values, long[] shape) {}

    private AdapterFiles() {}

    public static Loaded read(Path dir) {
        Loaded loaded = read(dir, name -> true);
        if (loaded.modules().isEmpty()) throw new DoraException(dir.resolve(WEIGHTS_FILE) + ": holds no adapter tensors");
        return loaded;
    }

    /**
     * The adapter in {@code dir} with only the adapter tensors whose keys {@code keep} accepts (and the shared ones)
     * read, for a reader that needs a few modules; modules_to_save are always read.
     */
    public static Loaded read(Path dir, Predicate<String> keep) {
        if (!Files.isDirectory(dir)) throw new DoraException(dir + ": adapter directory not found");
        PeftConfig config = PeftConfig.read(dir);
        PeftMethod method = config.method();
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            String hint = Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a pickle file, which is never loaded: save the adapter with safe_serialization)"
                    : "";
            throw new DoraException(file + ": adapter weights not found" + hint);
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, FileTensor> moduleTensors = new LinkedHashMap<>();
            Map<String, float[]> byKey = new LinkedHashMap<>();
            Map<String, Saved> saved = new LinkedHashMap<>();
            for (TensorInfo t : st.tensors()) {
                String name = t.name();
                boolean shared = method.sharedKeys().contains(name);
                if (!name.startsWith(PeftKeys.PREFIX) && !shared) {
                    throw new DoraException(file + ": tensor '" + name + "' does not start with '" + PeftKeys.PREFIX + "'");
                }
                String rest = shared ? name : name.substring(PeftKeys.PREFIX.length());
                if (!shared && isSavedModule(rest, config)) {
                    saved.put(rest, new Saved(rest, finite(st.readFloats(name), file, t), t.shape()));
                } else if (shared || keep.test(name)) {
                    FileTensor ft = new FileTensor(name, finite(st.readFloats(name), file, t), t.shape());
                    moduleTensors.put(name, ft);
                    byKey.put(name, ft.values());
                }
            }
            return new Loaded(dir, config, method.readModules(config, moduleTensors, file), saved, byKey);
        }
    }

    /** Writes config and tensors as a complete directory, atomically. */
    public static void write(Path dir, PeftConfig config, Map<String, ? extends ModuleAdapter> adapters) {
        AtomicFiles.writeDirectory(dir, tmp -> writeFiles(tmp, config, adapters));
    }

    /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} into {@code dir}, each atomically. */
    public static void writeFiles(Path dir, PeftConfig config, Map<String, ? extends ModuleAdapter> adapters) {
        writeFiles(dir, config, adapters, Map.of());
    }

    /**
     * As {@link #writeFiles(Path, PeftConfig, Map)}, with whole tensors of {@code modules_to_save} by module-relative
     * name ({@code classifier.weight}), stored as PEFT stores them: {@code base_model.model.classifier.weight}.
     * A tensor that several adapters share (one key, one tensor) is stored once.
     */
    public static void writeFiles(Path dir, PeftConfig config, Map<String, ? extends ModuleAdapter> adapters, Map<String, Tensor> saved) {
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.metadata(Map.of("format", "pt"));
        Map<String, Tensor> written = new HashMap<>();
        for (ModuleAdapter ad : adapters.values()) {
            for (AdapterTensor t : ad.tensors()) {
                Tensor before = written.putIfAbsent(t.key(), t.tensor());
                if (before == t.tensor()) continue;
                if (before != null) throw new IllegalArgumentException("two different tensors under key " + t.key());
                writer.add(t.key(), t.tensor().data(), longShape(t.tensor().shape()), DType.F32);
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
    static boolean isSavedModule(String key, PeftConfig config) {
        int dot = key.lastIndexOf('.');
        if (dot < 0) return false;
        String module = key.substring(0, dot);
        for (String m : config.modulesToSave()) {
            if (module.equals(m) || module.endsWith("." + m)) return true;
        }
        return false;
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

    private static long[] longShape(int[] shape) {
        long[] l = new long[shape.length];
        for (int i = 0; i < shape.length; i++) l[i] = shape[i];
        return l;
    }
}
