package dev.dora4j.analysis;

import dev.dora4j.DoraException;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
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
public record Snapshot(long step, Path dir, AdapterConfig adapter) {

    /** An adapter when {@code dir} has {@code adapter_config.json}, a full model when it has model weights, else null. */
    static Snapshot at(long step, Path dir) {
        if (Files.isRegularFile(dir.resolve(AdapterConfig.FILE_NAME))) return new Snapshot(step, dir, AdapterConfig.read(dir));
        if (Files.isRegularFile(dir.resolve(ShardedSafetensors.SINGLE_FILE))
                || Files.isRegularFile(dir.resolve(ShardedSafetensors.INDEX_FILE))) {
            return new Snapshot(step, dir, null);
        }
        return null;
    }

    public boolean isAdapter() {
        return adapter != null;
    }

    /** dora, lora or full, as the files say. */
    public String method() {
        if (adapter == null) return "full";
        return adapter.useDora() ? "dora" : "lora";
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
        Path file = dir.resolve(AdapterFiles.WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": adapter weights not found");
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            String keyA = PeftKeys.loraA(path), keyB = PeftKeys.loraB(path);
            if (!st.contains(keyA) || !st.contains(keyB)) {
                throw new DoraException(file + ": no tensor '" + (st.contains(keyA) ? keyB : keyA)
                        + "'; the module is not among the adapter's targets (choose --modules among them)");
            }
            int rank = adapter.rankFor(path);
            float[] a = matrix(st, keyA, rank, w0.cols(), file);
            float[] b = matrix(st, keyB, w0.rows(), rank, file);
            String keyM = st.contains(PeftKeys.magnitude(path)) ? PeftKeys.magnitude(path)
                    : PeftKeys.PREFIX + path + PeftKeys.MAGNITUDE_WITH_WEIGHT;
            float[] m = null;
            if (adapter.useDora()) {
                if (!st.contains(keyM)) {
                    throw new DoraException(file + ": tensor '" + PeftKeys.magnitude(path) + "' is missing (use_dora is true)");
                }
                long[] shape = st.info(keyM).shape();
                if (shape.length != 1 || shape[0] != w0.rows()) {
                    throw new DoraException(file + ": tensor '" + keyM + "' has shape " + Arrays.toString(shape) + " but the base weight '"
                            + weightName + "' has " + w0.rows() + " rows");
                }
                m = st.readFloats(keyM);
            } else if (st.contains(keyM)) {
                throw new DoraException(file + ": tensor '" + keyM + "' present but use_dora is false");
            }
            return new MergedRows(w0, a, b, m, rank, scaling(path));
        }
    }

    /** s = alpha / r, or alpha / sqrt(r) with rsLoRA, in double precision. */
    private double scaling(String path) {
        double alpha = adapter.alphaFor(path);
        int rank = adapter.rankFor(path);
        return adapter.useRslora() ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    private static float[] matrix(SafetensorsFile st, String key, long rows, long cols, Path file) {
        long[] shape = st.info(key).shape();
        if (!Arrays.equals(shape, new long[] {rows, cols})) {
            throw new DoraException(file + ": tensor '" + key + "' has shape " + Arrays.toString(shape) + " but the base weight and"
                    + " adapter_config.json imply " + Arrays.toString(new long[] {rows, cols}));
        }
        return st.readFloats(key);
    }
}
