package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.nn.Linear;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.AdapterWeights;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.peft.PeftKeys;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Merges a PEFT LoRA/DoRA adapter into a Hugging Face model directory, architecture-agnostic:
 * every targeted module must have a 2-D {@code <path>.weight}. Each targeted weight becomes
 * {@code W + s·B·A} (LoRA) or {@code (m/n)·(W + s·B·A)} (DoRA), computed in float32 and stored
 * back in the weight's own dtype; every other tensor and file is copied unchanged, shard layout
 * included. Everything is checked before anything is written, and the output directory appears
 * whole or not at all.
 */
public final class ModelMerge {
    /** What a merge did. */
    public record Summary(int mergedWeights, int copiedTensors, int copiedFiles, boolean dora) {}

    private static final String OUTPUT_HEAD = "lm_head";

    private ModelMerge() {}

    public static Summary merge(Path modelDir, Path adapterDir, Path outDir) {
        Path config = modelDir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new DoraException(config + ": model config not found");
        if (outDir.toAbsolutePath().normalize().equals(modelDir.toAbsolutePath().normalize())) {
            throw new DoraException(outDir + ": the output directory must differ from the model directory");
        }
        LlamaWriter.checkReplaceable(outDir);
        AdapterFiles.Loaded adapter = AdapterFiles.read(adapterDir);
        try (ShardedSafetensors model = ShardedSafetensors.open(modelDir)) {
            Map<String, TensorInfo> linearWeights = new LinkedHashMap<>();
            for (String name : model.names()) {
                TensorInfo info = model.info(name);
                if (name.endsWith(".weight") && info.shape().length == 2 && info.dtype() != null) {
                    linearWeights.put(name.substring(0, name.length() - ".weight".length()), info);
                }
            }
            List<String> targets = AdapterInjector.targetPaths(adapter.config(), linearWeights.keySet(), OUTPUT_HEAD,
                    adapterDir.resolve(AdapterConfig.FILE_NAME).toString());
            check(adapter, linearWeights, targets);
            Map<String, String> weightToPath = new LinkedHashMap<>();
            for (String path : targets) weightToPath.put(path + ".weight", path);

            int[] counts = new int[3];
            AtomicFiles.writeDirectory(outDir, tmp -> {
                for (SafetensorsFile shard : model.files()) {
                    SafetensorsWriter writer = new SafetensorsWriter();
                    writer.metadata(shard.metadata());
                    for (TensorInfo t : shard.tensors()) {
                        String path = weightToPath.get(t.name());
                        if (path == null) {
                            writer.addRaw(t.name(), t.dtypeName(), t.shape(), shard.data(t.name()));
                            counts[1]++;
                        } else {
                            float[] merged = mergeOne(shard, t, path, adapter);
                            writer.add(t.name(), merged, t.shape(), t.dtype());
                            counts[0]++;
                        }
                    }
                    writer.write(tmp.resolve(shard.path().getFileName().toString()));
                }
                counts[2] = copyOtherFiles(modelDir, tmp, model);
            });
            return new Summary(counts[0], counts[1], counts[2], adapter.config().useDora());
        }
    }

    private static void check(AdapterFiles.Loaded adapter, Map<String, TensorInfo> linearWeights, List<String> targets) {
        Path file = adapter.dir().resolve(AdapterFiles.WEIGHTS_FILE);
        for (AdapterWeights w : adapter.modules().values()) {
            TensorInfo info = linearWeights.get(w.path());
            if (info == null) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(w.path()) + "' names module '" + w.path()
                        + "', which has no 2-D weight in the model");
            }
            if (info.shape()[0] != w.out() || info.shape()[1] != w.in()) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(w.path()) + "' is [" + w.rank() + ", " + w.in()
                        + "] and lora_B [" + w.out() + ", " + w.rank() + "], but the model's '" + info.name() + "' is "
                        + Arrays.toString(info.shape()));
            }
            if (!targets.contains(w.path())) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(w.path())
                        + "' is for a module that target_modules does not select");
            }
        }
        for (String path : targets) {
            if (!adapter.modules().containsKey(path)) {
                throw new DoraException(file + ": tensor '" + PeftKeys.loraA(path) + "' is missing for targeted module '" + path + "'");
            }
        }
    }

    private static float[] mergeOne(SafetensorsFile shard, TensorInfo t, String path, AdapterFiles.Loaded adapter) {
        AdapterWeights w = adapter.modules().get(path);
        Linear layer = new Linear(path, Tensor.of(shard.readFloats(t.name()), w.out(), w.in()), null);
        Tensor m = w.isDora() ? Tensor.of(w.magnitude(), w.out()) : null;
        LoraAdapter lora = new LoraAdapter(Tensor.of(w.loraA(), w.rank(), w.in()), Tensor.of(w.loraB(), w.out(), w.rank()),
                m, adapter.config().scalingFor(path), null);
        layer.adapter(lora);
        layer.merge();
        float[] merged = layer.weight().data();
        checkRange(merged, t, shard.path());
        return merged;
    }

    /** Merged values must be finite and representable in the weight's dtype: no silent overflow to infinity. */
    private static void checkRange(float[] values, TensorInfo t, Path file) {
        float max = t.dtype() == DType.F16 ? 65504f : Float.MAX_VALUE;
        for (int i = 0; i < values.length; i++) {
            if (!(Math.abs(values[i]) <= max)) {
                throw new DoraException(file + ": tensor '" + t.name() + "': merged value " + values[i] + " at index " + i
                        + " is not finite in " + t.dtypeName());
            }
        }
    }

    private static int copyOtherFiles(Path modelDir, Path outDir, ShardedSafetensors model) throws IOException {
        List<String> shards = model.files().stream().map(f -> f.path().getFileName().toString()).toList();
        int copied = 0;
        try (Stream<Path> files = Files.list(modelDir)) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p) || shards.contains(name)) continue;
                Files.copy(p, outDir.resolve(name));
                copied++;
            }
        }
        return copied;
    }
}
