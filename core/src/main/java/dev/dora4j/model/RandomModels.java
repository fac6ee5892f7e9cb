package dev.dora4j.model;

import dev.dora4j.kernel.Bf16Matrix;
import dev.dora4j.kernel.F16Matrix;
import dev.dora4j.kernel.Half;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.kernel.WeightStorage;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Randomly initialised models for benchmarks: weights ~ N(0, 0.02²) as transformers initialises Llama, norms 1.
 * Values are drawn in fixed chunks, each from its own generator split off the seed, so the model is the same for any
 * thread count; a 16-bit matrix is written straight into its 16-bit storage, never held whole as float32.
 */
public final class RandomModels {
    /** Values per chunk, each chunk with its own generator. */
    private static final int CHUNK = 1 << 16;

    private RandomModels() {}

    public static LlamaModel llama(LlamaConfig c, long seed) {
        return llama(c, seed, WeightStorage.F32, LinearStorage.AS_STORED);
    }

    /**
     * A random model stored as a {@code dtype} checkpoint would be (every matrix in {@code dtype}, norms in F32), with
     * the decoder layers' linear weights then kept as {@code linears} says, as a loader would.
     */
    public static LlamaModel llama(LlamaConfig c, long seed, WeightStorage dtype, LinearStorage linears) {
        if (dtype.quantized()) throw new IllegalArgumentException("a checkpoint's dtype is f32, bf16 or f16, got " + dtype);
        long[] stream = {seed};
        int h = c.hiddenSize(), ff = c.intermediateSize();
        Tensor embed = normal(stream, c.vocabSize(), h, dtype);
        List<LlamaBlock> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            layers.add(new LlamaBlock(c, ones(h), ones(h),
                    linear(stream, dtype, linears, p + "self_attn.q_proj", c.qDim(), h, c.attentionBias()),
                    linear(stream, dtype, linears, p + "self_attn.k_proj", c.kvDim(), h, c.attentionBias()),
                    linear(stream, dtype, linears, p + "self_attn.v_proj", c.kvDim(), h, c.attentionBias()),
                    linear(stream, dtype, linears, p + "self_attn.o_proj", h, c.qDim(), false),
                    linear(stream, dtype, linears, p + "mlp.gate_proj", ff, h, false),
                    linear(stream, dtype, linears, p + "mlp.up_proj", ff, h, false),
                    linear(stream, dtype, linears, p + "mlp.down_proj", h, ff, false)));
        }
        Tensor head = c.tieWordEmbeddings() ? embed : normal(stream, c.vocabSize(), h, dtype);
        return new LlamaModel(c, embed, layers, ones(h), head);
    }

    private static Linear linear(long[] stream, WeightStorage dtype, LinearStorage storage, String path, int out,
                                 int in, boolean bias) {
        Tensor w = storage.apply(normal(stream, out, in, dtype)).named(path + ".weight");
        return new Linear(path, w, bias ? Tensor.of(new float[out], out) : null);
    }

    // the next matrix of the stream of random matrices: [rows, cols] in dtype
    private static Tensor normal(long[] stream, int rows, int cols, WeightStorage dtype) {
        long seed = stream[0]++;
        int n = Math.multiplyExact(rows, cols);
        float[] values = dtype == WeightStorage.F32 ? new float[n] : null;
        short[] bits = values == null ? new short[n] : null;
        int chunks = (n + CHUNK - 1) / CHUNK;
        Parallel.range(chunks, 1, (c0, c1) -> {
            float[] buffer = values == null ? new float[CHUNK] : null;
            for (int c = c0; c < c1; c++) {
                SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + c);
                int start = c * CHUNK, len = Math.min(CHUNK, n - start);
                float[] dst = values != null ? values : buffer;
                int off = values != null ? start : 0;
                for (int i = 0; i < len; i++) dst[off + i] = (float) (gaussian(rng) * 0.02);
                if (dtype == WeightStorage.BF16) Half.floatToBf16(buffer, 0, bits, start, len);
                if (dtype == WeightStorage.F16) Half.floatToF16(buffer, 0, bits, start, len);
            }
        });
        return switch (dtype) {
            case BF16 -> Tensor.of(new Bf16Matrix(bits, rows, cols));
            case F16 -> Tensor.of(new F16Matrix(bits, rows, cols));
            default -> Tensor.of(values, rows, cols);
        };
    }

    private static double gaussian(SplittableRandom rng) {
        double u = 1.0 - rng.nextDouble(), v = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static Tensor ones(int n) {
        float[] d = new float[n];
        Arrays.fill(d, 1f);
        return Tensor.of(d, n);
    }
}
