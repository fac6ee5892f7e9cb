package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.kernel.F32Matrix;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.peft.PeftMethod;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Merges PEFT adapters of any registered method into a Hugging Face model directory, architecture-agnostic:
 * every targeted module must have a 2-D {@code <path>.weight}. Each targeted weight becomes what the method's merge
 * makes of it (LoRA {@code W + s·B·A}, DoRA {@code (m/n)·(W + s·B·A)}), computed in float32 and stored
 * back in the weight's own dtype; every other tensor and file is copied unchanged, shard layout
 * included. Everything is checked before anything is written, and the output directory appears
 * whole or not at all.
 *
 * <p>A quantised base is merged as PEFT's {@code merge_and_unload} followed by dequantisation does for a bitsandbytes
 * model: a bitsandbytes checkpoint's quantised linear weights are dequantised, merged where targeted, and written as
 * floats of the requested dtype (default {@code bnb_4bit_compute_dtype}); their quant-state tensors and
 * {@code quantization_config} are dropped. An adapter trained on a float model quantised at load ({@code --quantize})
 * is merged into the weights it saw: every block linear is quantised and dequantised first.
 */
public final class ModelMerge {
    /** What a merge did. */
    public record Summary(int mergedWeights, int copiedTensors, int copiedFiles, boolean dora) {}

    private static final String OUTPUT_HEAD = "lm_head";

    private ModelMerge() {}

    public static Summary merge(Path modelDir, Path adapterDir, Path outDir) {
        return merge(modelDir, adapterDir, outDir, LinearStorage.AS_STORED, null);
    }

    /**
     * @param base  the storage the adapter was trained on (quantised at load), or {@link LinearStorage#AS_STORED}
     * @param dtype the dtype of the merged and dequantised linear weights (F32, BF16, F16), or null for each weight's
     *              own dtype (a bitsandbytes checkpoint's compute dtype for its quantised weights)
     */
    public static Summary merge(Path modelDir, Path adapterDir, Path outDir, LinearStorage base, WeightStorage dtype) {
        return merge(modelDir, List.of(adapterDir), outDir, base, dtype);
    }

    /** Several adapters at once, with the model's own storage (see below). */
    public static Summary merge(Path modelDir, List<Path> adapterDirs, Path outDir) {
        return merge(modelDir, adapterDirs, outDir, LinearStorage.AS_STORED, null);
    }

    /**
     * Merges several adapters at once, as PEFT merges several active adapters since its #3608 fix: each adapter's
     * change {@code mergeᵢ(W) − W} is taken from the base weight (every DoRA norm from W, not from the weight merged so
     * far) and the changes are added, so the merged model computes what the unmerged one does with all of them active.
     */
    public static Summary merge(Path modelDir, List<Path> adapterDirs, Path outDir, LinearStorage base, WeightStorage dtype) {
        if (adapterDirs.isEmpty()) throw new DoraException("give at least one --adapter");
        Path config = modelDir.resolve("config.json");
        if (!Files.isRegularFile(config)) throw new DoraException(config + ": model config not found");
        if (outDir.toAbsolutePath().normalize().equals(modelDir.toAbsolutePath().normalize())) {
            throw new DoraException(outDir + ": the output directory must differ from the model directory");
        }
        LlamaWriter.checkReplaceable(outDir);
        List<AdapterFiles.Loaded> adapters = adapterDirs.stream().map(AdapterFiles::read).toList();
        BnbConfig bnb = BnbConfig.read(modelDir);
        try (ShardedSafetensors model = ShardedSafetensors.open(modelDir)) {
            Map<String, long[]> linearWeights = new LinkedHashMap<>();
            Set<String> quantized = new HashSet<>(), quantState = new HashSet<>();
            for (String name : model.names()) {
                TensorInfo info = model.info(name);
                if (!name.endsWith(".weight")) continue;
                String path = name.substring(0, name.length() - ".weight".length());
                if (BnbWeights.isQuantized(model, name)) {
                    linearWeights.put(path, BnbWeights.shape(model, name));
                    quantized.add(name);
                    quantState.addAll(BnbWeights.stateTensors(model, name));
                } else if (info.shape().length == 2 && info.dtype() != null) {
                    linearWeights.put(path, info.shape());
                }
            }
            Map<String, String> weightToPath = new LinkedHashMap<>();
            for (AdapterFiles.Loaded adapter : adapters) {
                List<String> targets = AdapterInjector.targetPaths(adapter.config(), linearWeights.keySet(), OUTPUT_HEAD,
                        adapter.dir().resolve(AdapterConfig.FILE_NAME).toString());
                check(adapter, linearWeights, targets);
                for (String path : targets) weightToPath.put(path + ".weight", path);
            }

            int[] counts = new int[3];
            WeightStorage computeDtype = bnb != null ? bnb.computeDtype() : WeightStorage.F32;
            AtomicFiles.writeDirectory(outDir, tmp -> {
                for (SafetensorsFile shard : model.files()) {
                    SafetensorsWriter writer = new SafetensorsWriter();
                    writer.metadata(shard.metadata());
                    for (TensorInfo t : shard.tensors()) {
                        String path = weightToPath.get(t.name());
                        if (quantState.contains(t.name())) continue;
                        boolean dequantize = quantized.contains(t.name());
                        boolean requantize = !dequantize && base.storage() != null && isBlockLinear(t);
                        if (path == null && !dequantize && !requantize) {
                            writer.addRaw(t.name(), t.dtypeName(), t.shape(), shard.data(t.name()));
                            counts[1]++;
                            continue;
                        }
                        long[] shape = linearWeights.get(t.name().substring(0, t.name().length() - ".weight".length()));
                        WeightMatrix w = dequantize ? BnbWeights.read(model, t.name(), (int) shape[0], (int) shape[1], new HashSet<>())
                                : new F32Matrix(shard.readFloats(t.name()), (int) shape[0], (int) shape[1]);
                        if (requantize) w = base.convert(w);
                        DType out = dtype != null ? DType.valueOf(dtype.name())
                                : dequantize ? DType.valueOf(computeDtype.name()) : t.dtype();
                        float[] values = path == null ? w.toFloatArray() : mergeAll(w, path, adapters);
                        checkRange(values, t.name(), out, shard.path());
                        writer.add(t.name(), values, shape, out);
                        if (path != null) counts[0]++;
                        else counts[1]++;
                    }
                    writer.write(tmp.resolve(shard.path().getFileName().toString()));
                }
                counts[2] = copyOtherFiles(modelDir, tmp, model);
                if (!quantized.isEmpty()) DequantizedFiles.rewrite(tmp, quantState);
            });
            return new Summary(counts[0], counts[1], counts[2], adapters.stream().anyMatch(a -> a.config().method().useDora()));
        }
    }

    private static void check(AdapterFiles.Loaded adapter, Map<String, long[]> linearWeights, List<String> targets) {
        Path file = adapter.dir().resolve(AdapterFiles.WEIGHTS_FILE);
        PeftMethod method = adapter.config().method();
        for (ModuleWeights w : adapter.modules().values()) {
            long[] shape = linearWeights.get(w.path());
            if (shape == null) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(w.path()) + "' names module '" + w.path()
                        + "', which has no 2-D weight in the model");
            }
            if (!w.fits((int) shape[0], (int) shape[1])) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(w.path()) + "' is " + w.shapes()
                        + ", but the model's '" + w.path() + ".weight' is " + Arrays.toString(shape));
            }
            if (!targets.contains(w.path())) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(w.path())
                        + "' is for a module that target_modules does not select");
            }
        }
        for (String path : targets) {
            if (!adapter.modules().containsKey(path)) {
                throw new DoraException(file + ": tensor '" + method.moduleKey(path) + "' is missing for targeted module '" + path + "'");
            }
        }
    }

    /** A linear weight of the decoder/encoder blocks, which --quantize quantises: not an embedding or a head. */
    private static boolean isBlockLinear(TensorInfo t) {
        String n = t.name();
        return n.endsWith(".weight") && t.shape().length == 2 && t.dtype() != null && !n.contains("embed")
                && !n.startsWith("lm_head") && !n.startsWith("classifier") && !n.contains(".classifier.");
    }

    /** W + Σ (mergeᵢ(W) − W) over the adapters that target {@code path}, each merge from the base weight W. */
    private static float[] mergeAll(WeightMatrix weight, String path, List<AdapterFiles.Loaded> adapters) {
        float[] w = weight.toFloatArray();
        float[] merged = null;
        for (AdapterFiles.Loaded adapter : adapters) {
            ModuleWeights m = adapter.modules().get(path);
            if (m == null) continue;
            float[] one = m.merge(w, weight.rows(), weight.cols());
            if (merged == null) {
                merged = one;
            } else {
                for (int i = 0; i < merged.length; i++) merged[i] += one[i] - w[i];
            }
        }
        return merged;
    }

    /** Merged values must be finite and representable in the weight's dtype: no silent overflow to infinity. */
    private static void checkRange(float[] values, String name, DType dtype, Path file) {
        float max = dtype == DType.F16 ? 65504f : Float.MAX_VALUE;
        for (int i = 0; i < values.length; i++) {
            if (!(Math.abs(values[i]) <= max)) {
                throw new DoraException(file + ": tensor '" + name + "': merged value " + values[i] + " at index " + i
                        + " is not finite in " + dtype);
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
