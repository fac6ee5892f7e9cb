package dev.dora4j.analysis;

import dev.dora4j.DoraException;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.ModuleWeights;
import dev.dora4j.peft.PeftConfig;
import dev.dora4j.peft.PeftKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The trained weights of a run at one step: a PEFT adapter ({@code adapter} set) or a full model
 * directory ({@code adapter} null). Reading a module opens the files, copies that module's tensors
 * out and closes them again, so nothing else of the snapshot is held in memory.
 *
 * @param dir     a checkpoint directory or the run's output directory
 * @param adapter the adapter's config, or null for a full model
 */
public record Snapshot(long step, Path dir, PeftConfig adapter) {
    /** The method name of a full fine-tune. */
    public static final String FULL = "full";

    /** An adapter when {@code dir} has {@code adapter_config.json}, a full model when it has model weights, else null. */
    static Snapshot at(long step, Path dir) {
        if (Files.isRegularFile(dir.resolve(AdapterConfig.FILE_NAME))) return new Snapshot(step, dir, PeftConfig.read(dir));
        if (Files.isRegularFile(dir.resolve(ShardedSafetensors.SINGLE_FILE))
                || Files.isRegularFile(dir.resolve(ShardedSafetensors.INDEX_FILE))) {
            return new Snapshot(step, dir, null);
        }
        return null;
    }

    public boolean isAdapter() {
        return adapter != null;
    }

    /** The adapter method's name (lora, dora, vera, dvora) or full, as the files say. */
    public String method() {
        return adapter == null ? FULL : adapter.method().id();
    }

    /** The rows of the trained weight {@code weightName} ({@code <module path>.weight}), whose base is {@code w0}. */
    WeightDeltas.RowSource rows(String weightName, Matrix w0) {
        return isAdapter() ? adapterRows(weightName, w0) : WeightDeltas.explicit(modelWeight(weightName, w0), w0.cols());
    }

    private float[] modelWeight(String weightName, Matrix w0) {
        try (ShardedSafetensors model = ShardedSafetensors.open(dir)) {
            if (!model.contains(weightName)) throw new DoraException(dir + ": tensor '" + weightName + "' is missing from the model");
            TensorInfo info = model.info(weightName);
            if (!w0.hasShape(info.shape())) {
                throw new DoraException(model.fileOf(weightName).path() + ": tensor '" + weightName + "' has shape "
                        + Arrays.toString(info.shape()) + " but the base weight is " + Arrays.toString(w0.shape()));
            }
            return model.readFloats(weightName);
        }
    }

    private WeightDeltas.RowSource adapterRows(String weightName, Matrix w0) {
        String path = weightName.substring(0, weightName.length() - ".weight".length());
        String modulePrefix = PeftKeys.PREFIX + path + ".";
        AdapterFiles.Loaded loaded = AdapterFiles.read(dir, key -> key.startsWith(modulePrefix));
        ModuleWeights module = loaded.modules().get(path);
        Path file = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        if (module == null) {
            throw new DoraException(file + ": no tensor '" + adapter.method().moduleKey(path)
                    + "'; the module is not among the adapter's targets (choose --modules among them)");
        }
        if (!module.fits(w0.rows(), w0.cols())) {
            throw new DoraException(file + ": tensor '" + adapter.method().moduleKey(path) + "' is " + module.shapes()
                    + " but the base weight '" + weightName + "' " + Arrays.toString(w0.shape()) + " needs "
                    + module.shapesFitting(w0.rows(), w0.cols()));
        }
        return new MergedRows(w0, module);
    }
}
