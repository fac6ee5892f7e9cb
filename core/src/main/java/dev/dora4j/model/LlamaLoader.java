package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.PickleFormat;
import dev.dora4j.io.ShardedSafetensors;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.kernel.Bf16Matrix;
import dev.dora4j.kernel.F16Matrix;
import dev.dora4j.kernel.WeightMatrix;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.DType;
import dev.dora4j.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Loads a Llama-family model from a Hugging Face directory (config.json + single or sharded safetensors). */
public final class LlamaLoader {
    private LlamaLoader() {}

    /** A model directory, or a llama2.c checkpoint file ({@code .bin}), every weight kept in its file's dtype. */
    public static LlamaModel load(Path path) {
        return load(path, LinearStorage.AS_STORED);
    }

    /** As {@link #load(Path)}, with the decoder layers' linear weights kept as {@code storage} says. */
    public static LlamaModel load(Path path, LinearStorage storage) {
        if (Files.isRegularFile(path)) {
            String name = path.getFileName().toString();
            if (PickleFormat.looksLikePickle(path) || name.endsWith(".pt") || name.endsWith(".pth")
                    || name.endsWith(".ckpt") || name.endsWith(".pkl")) {
                throw new DoraException(path + ": is a PyTorch checkpoint; " + PickleFormat.ADVICE);
            }
            if (name.endsWith(".bin")) return Llama2cLoader.load(path, storage);
            throw new DoraException(path + ": not a model directory or a llama2.c checkpoint (.bin)");
        }
        if (!Files.isDirectory(path)) throw new DoraException(path + ": model not found");
        for (String pickle : List.of("pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin", "model.pt")) {
            if (Files.exists(path.resolve(pickle)) && !Files.exists(path.resolve(ShardedSafetensors.SINGLE_FILE))
                    && !Files.exists(path.resolve(ShardedSafetensors.INDEX_FILE))) {
                throw new DoraException(path.resolve(pickle) + ": " + PickleFormat.ADVICE);
            }
        }
        LlamaConfig config = LlamaConfig.read(path.resolve("config.json"));
        try (ShardedSafetensors st = ShardedSafetensors.open(path)) {
            return build(config, new SafetensorsSource(st), storage);
        }
    }

    /** Named weights with the shapes config.json implies. */
    interface WeightSource {
        Tensor read(String name, int... shape);

        /** A weight matrix (linear layer, embedding, head): as {@link #read}, but BF16/F16 values stay 16-bit in memory. */
        default Tensor readLinearWeight(String name, int... shape) {
            return read(name, shape);
        }

        boolean has(String name);

        /** Names present but never read. */
        List<String> unused();

        Path dir();
    }

    /** Reads named tensors with their expected shapes, remembering which ones were used. */
    static final class SafetensorsSource implements WeightSource {
        private final ShardedSafetensors st;
        private final Set<String> used = new HashSet<>();

        /** Refuses a model quantised by a method other than bitsandbytes (its config.json's quantization_config). */
        SafetensorsSource(ShardedSafetensors st) {
            this.st = st;
            BnbConfig.read(dir());
        }

        @Override
        public Tensor read(String name, int... shape) {
            check(name, shape);
            return Tensor.of(finite(name), shape).named(name);
        }

        /** The tensor as floats, checked to be finite. */
        private float[] finite(String name) {
            float[] values = st.readFloats(name);
            checkFinite(values, st.fileOf(name).path(), name, st.info(name).dtypeName());
            return values;
        }

        private void check(String name, int[] shape) {
            if (!st.contains(name)) {
                throw new DoraException(st.files().getFirst().path().getParent() + ": tensor '" + name + "' is missing from the model");
            }
            TensorInfo info = st.info(name);
            long[] want = Arrays.stream(shape).asLongStream().toArray();
            if (!Arrays.equals(info.shape(), want)) {
                throw new DoraException(st.fileOf(name).path() + ": tensor '" + name + "' has shape " + Arrays.toString(info.shape())
                        + " but config.json implies " + Arrays.toString(want));
            }
            used.add(name);
        }

        @Override
        public Tensor readLinearWeight(String name, int... shape) {
            if (BnbWeights.isQuantized(st, name)) {
                if (!st.contains(name)) check(name, shape);
                used.add(name);
                return Tensor.of(BnbWeights.read(st, name, shape[0], shape[1], used)).named(name);
            }
            check(name, shape);
            TensorInfo info = st.info(name);
            if (info.dtype() != DType.BF16 && info.dtype() != DType.F16) return Tensor.of(finite(name), shape).named(name);
            short[] bits = st.fileOf(name).data(name).toArray(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            checkFiniteHalves(bits, info.dtype(), st.fileOf(name).path(), name);
            WeightMatrix m = info.dtype() == DType.BF16 ? new Bf16Matrix(bits, shape[0], shape[1])
                    : new F16Matrix(bits, shape[0], shape[1]);
            return Tensor.of(m).named(name);
        }

        @Override
        public boolean has(String name) {
            return st.contains(name);
        }

        @Override
        public List<String> unused() {
            List<String> rest = new ArrayList<>();
            for (String n : st.names()) if (!used.contains(n) && !n.endsWith("rotary_emb.inv_freq")) rest.add(n);
            return rest;
        }

        @Override
        public Path dir() {
            return st.files().getFirst().path().getParent();
        }
    }

    /** Weights must be finite: an F16 or BF16 infinity or a NaN is reported with its tensor, never used. */
    static void checkFinite(float[] values, Path file, String name, String dtype) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new DoraException(file + ": tensor '" + name + "' holds a non-finite value (" + values[i] + ", "
                        + dtype + ") at index " + i);
            }
        }
    }

    /** {@link #checkFinite} for weights kept in 16 bits: all exponent bits set is an infinity or a NaN. */
    static void checkFiniteHalves(short[] bits, DType dtype, Path file, String name) {
        int exponent = dtype == DType.BF16 ? 0x7f80 : 0x7c00;
        int mantissa = dtype == DType.BF16 ? 0x007f : 0x03ff;
        for (int i = 0; i < bits.length; i++) {
            if ((bits[i] & exponent) == exponent) {
                float value = (bits[i] & mantissa) != 0 ? Float.NaN
                        : bits[i] < 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
                throw new DoraException(file + ": tensor '" + name + "' holds a non-finite value (" + value + ", "
                        + dtype + ") at index " + i);
            }
        }
    }

    static LlamaModel build(LlamaConfig c, WeightSource r, LinearStorage storage) {
        int h = c.hiddenSize(), ff = c.intermediateSize();
        Tensor embed = r.readLinearWeight("model.embed_tokens.weight", c.vocabSize(), h);
        List<LlamaBlock> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            layers.add(new LlamaBlock(c,
                    r.read(p + "input_layernorm.weight", h),
                    r.read(p + "post_attention_layernorm.weight", h),
                    linear(r, storage, p + "self_attn.q_proj", c.qDim(), h, c.attentionBias()),
                    linear(r, storage, p + "self_attn.k_proj", c.kvDim(), h, c.attentionBias()),
                    linear(r, storage, p + "self_attn.v_proj", c.kvDim(), h, c.attentionBias()),
                    linear(r, storage, p + "self_attn.o_proj", h, c.qDim(), false),
                    linear(r, storage, p + "mlp.gate_proj", ff, h, false),
                    linear(r, storage, p + "mlp.up_proj", ff, h, false),
                    linear(r, storage, p + "mlp.down_proj", h, ff, false)));
        }
        Tensor norm = r.read("model.norm.weight", h);
        Tensor head;
        if (c.tieWordEmbeddings()) {
            head = embed;
        } else if (r.has("lm_head.weight")) {
            head = r.readLinearWeight("lm_head.weight", c.vocabSize(), h);
        } else {
            throw new DoraException(r.dir() + ": tensor 'lm_head.weight' is missing and tie_word_embeddings is false");
        }
        List<String> unused = r.unused();
        if (c.tieWordEmbeddings()) unused.remove("lm_head.weight");
        if (!unused.isEmpty()) {
            throw new DoraException(r.dir() + ": tensor '" + unused.getFirst() + "' is not part of a " + c.modelType()
                    + " model with this config (" + unused.size() + " unexpected tensors)");
        }
        return new LlamaModel(c, embed, layers, norm, head);
    }

    private static Linear linear(WeightSource r, LinearStorage storage, String path, int out, int in, boolean bias) {
        Tensor b = bias ? r.read(path + ".bias", out) : null;
        return new Linear(path, storage.apply(r.readLinearWeight(path + ".weight", out, in)), b);
    }
}
