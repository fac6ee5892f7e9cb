package dev.dora4j.model;

import dev.dora4j.kernel.Bf16Matrix;
import dev.dora4j.kernel.F16Matrix;
import dev.dora4j.kernel.F32Matrix;
import dev.dora4j.kernel.FourBitMatrix;
import dev.dora4j.kernel.Int8Matrix;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.tensor.Tensor;
import java.io.Serializable;

/**
 * How a loader keeps the weights of the linear layers inside the decoder or encoder blocks: as the file stores them,
 * converted to another float type ({@code --dtype}), or quantised at load time ({@code --quantize}, as transformers'
 * {@code BitsAndBytesConfig(load_in_4bit / load_in_8bit)} does). Embeddings, {@code lm_head}, norms and a
 * classification head are never converted. Each weight is converted as it is read, so a model is never held whole
 * in float32 on the way.
 *
 * @param storage     the storage every block linear weight gets, or null to keep the file's
 * @param blockSize   values per absmax block of the 4-bit storages (bitsandbytes' default 64)
 * @param doubleQuant quantise the 4-bit absmax values again (bitsandbytes' {@code bnb_4bit_use_double_quant})
 */
public record LinearStorage(WeightStorage storage, int blockSize, boolean doubleQuant) implements Serializable {
    /** Keep every weight in the dtype its file stores. */
    public static final LinearStorage AS_STORED = new LinearStorage(null, 64, false);

    public LinearStorage {
        if (!FourBitMatrix.BLOCK_SIZES.contains(blockSize)) {
            throw new IllegalArgumentException("block size " + blockSize + " is not one bitsandbytes allows " + FourBitMatrix.BLOCK_SIZES);
        }
        if (doubleQuant && (storage == null || !storage.quantized() || storage == WeightStorage.INT8)) {
            throw new IllegalArgumentException("double quantisation applies to the 4-bit storages (nf4, fp4) only");
        }
    }

    /**
     * The storage the command-line options ask for: {@code dtype} (f32, bf16, f16) converts the block linear weights,
     * {@code quantize} (nf4, fp4, int8) quantises them; neither keeps them as stored. Names are case-insensitive.
     */
    public static LinearStorage parse(String dtype, String quantize, boolean doubleQuant) {
        if (dtype != null && quantize != null) {
            throw new IllegalArgumentException("--dtype and --quantize both set the linear weights' storage; give one");
        }
        if (doubleQuant && quantize == null) throw new IllegalArgumentException("--double-quant needs --quantize nf4 or fp4");
        if (dtype != null) {
            WeightStorage s = named(dtype, "--dtype");
            if (s.quantized()) throw new IllegalArgumentException("--dtype must be f32, bf16 or f16, got " + dtype);
            return of(s);
        }
        if (quantize != null) {
            WeightStorage s = named(quantize, "--quantize");
            if (!s.quantized()) throw new IllegalArgumentException("--quantize must be nf4, fp4 or int8, got " + quantize);
            return new LinearStorage(s, 64, doubleQuant);
        }
        return AS_STORED;
    }

    private static WeightStorage named(String name, String option) {
        for (WeightStorage s : WeightStorage.values()) if (s.name().equalsIgnoreCase(name)) return s;
        throw new IllegalArgumentException(option + ": unknown storage '" + name + "'");
    }

    /** The given storage with bitsandbytes' defaults. */
    public static LinearStorage of(WeightStorage storage) {
        return new LinearStorage(storage, 64, false);
    }

    /** {@code weight} in this storage: the same tensor when nothing changes, else a new frozen one of the same name. */
    public Tensor apply(Tensor weight) {
        if (storage == null || weight.storage() == storage) return weight;
        return Tensor.of(convert(weight.matrix())).named(weight.name());
    }

    /** {@code w} in this storage (widened to float and stored again, one matrix at a time). */
    public WeightMatrix convert(WeightMatrix w) {
        if (storage == null || w.storage() == storage) return w;
        float[] values = w.toFloatArray();
        return switch (storage) {
            case F32 -> new F32Matrix(values, w.rows(), w.cols());
            case BF16 -> Bf16Matrix.of(values, w.rows(), w.cols());
            case F16 -> F16Matrix.of(values, w.rows(), w.cols());
            case INT8 -> Int8Matrix.quantize(values, w.rows(), w.cols());
            case NF4, FP4 -> FourBitMatrix.quantize(values, w.rows(), w.cols(), storage, blockSize, doubleQuant);
        };
    }
}
