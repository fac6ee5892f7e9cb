package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.PickleFormat;
import dev.dora4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads a llama2.c checkpoint (the legacy v0 format of {@code run.c}: seven int32 header fields,
 * then float32 weights) as a Hugging Face-convention Llama model. llama2.c rotates interleaved
 * pairs {@code (2i, 2i+1)} of each head while transformers rotates halves {@code (i, i + D/2)}; the
 * rows of q_proj and k_proj are permuted at load (as transformers' conversion script does), so the
 * model computes the same function with one convention.
 */
public final class Llama2cLoader {
    private static final int HEADER_BYTES = 7 * 4;

    private Llama2cLoader() {}

    /** The header of a llama2.c checkpoint. */
    public record Header(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocab, boolean sharedHead, int seqLen) {}

    public static LlamaModel load(Path file) {
        return load(file, LinearStorage.AS_STORED);
    }

    /** As {@link #load(Path)}, with the decoder layers' linear weights kept as {@code storage} says. */
    public static LlamaModel load(Path file, LinearStorage storage) {
        if (PickleFormat.looksLikePickle(file)) {
            throw new DoraException(file + ": is a PyTorch checkpoint, not a llama2.c one; " + PickleFormat.ADVICE);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_BYTES) throw new DoraException(file + ": " + size + " bytes, too short for a llama2.c header");
            if (size > Integer.MAX_VALUE) throw new DoraException(file + ": llama2.c checkpoints over 2 GB are not supported; convert to safetensors");
            ByteBuffer buf = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
            while (buf.hasRemaining() && ch.read(buf) >= 0) { }
            buf.flip();
            Header h = header(buf, file);
            FloatBuffer f = buf.position(HEADER_BYTES).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            return build(h, f, file, storage);
        } catch (NoSuchFileException e) {
            throw new DoraException(file + ": checkpoint not found", e);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    static Header header(ByteBuffer b, Path file) {
        int dim = b.getInt(0), hidden = b.getInt(4), layers = b.getInt(8), heads = b.getInt(12), kvHeads = b.getInt(16);
        int vocab = b.getInt(20), seqLen = b.getInt(24);
        boolean shared = vocab > 0;
        vocab = Math.abs(vocab);
        if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || seqLen <= 0
                || dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0) {
            throw new DoraException(file + ": not a llama2.c checkpoint: header dim=" + dim + " hidden_dim=" + hidden + " n_layers="
                    + layers + " n_heads=" + heads + " n_kv_heads=" + kvHeads + " vocab_size=" + vocab + " seq_len=" + seqLen);
        }
        return new Header(dim, hidden, layers, heads, kvHeads, vocab, shared, seqLen);
    }

    /** The config this checkpoint corresponds to, with llama2.c's fixed constants (eps 1e-5, theta 10000). */
    public static LlamaConfig config(Header h) {
        return new LlamaConfig("llama", h.dim(), h.hiddenDim(), h.layers(), h.heads(), h.kvHeads(), h.dim() / h.heads(),
                h.vocab(), h.seqLen(), 1e-5f, 10000.0, null, 1, 1, 4, 0, h.sharedHead(), false, 1, 2);
    }

    private static LlamaModel build(Header h, FloatBuffer f, Path file, LinearStorage storage) {
        int dim = h.dim(), hid = h.hiddenDim(), L = h.layers(), headSize = dim / h.heads(), kvDim = h.kvHeads() * headSize;
        long expected = (long) h.vocab() * dim + (long) L * (2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * hid * dim)
                + dim + (long) h.seqLen() * headSize + (h.sharedHead() ? 0 : (long) h.vocab() * dim);
        long have = f.remaining();
        if (have < expected) {
            throw new DoraException(file + ": checkpoint holds " + have + " floats after its header but the header implies "
                    + expected + " (file truncated or header wrong)");
        }
        if (have > expected) {
            throw new DoraException(file + ": checkpoint holds " + (have - expected) + " floats more than its header implies");
        }
        Map<String, float[]> w = new LinkedHashMap<>();
        w.put("model.embed_tokens.weight", take(f, h.vocab() * dim));
        float[] rmsAtt = take(f, L * dim);
        float[] wq = take(f, L * dim * dim), wk = take(f, L * kvDim * dim), wv = take(f, L * kvDim * dim);
        float[] wo = take(f, L * dim * dim), rmsFfn = take(f, L * dim);
        float[] w1 = take(f, L * hid * dim), w2 = take(f, L * dim * hid), w3 = take(f, L * hid * dim);
        float[] rmsFinal = take(f, dim);
        f.position(f.position() + h.seqLen() * headSize);
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            w.put(p + "input_layernorm.weight", slice(rmsAtt, l, dim));
            w.put(p + "self_attn.q_proj.weight", interleavedToHalves(slice(wq, l, dim * dim), h.heads(), headSize, dim));
            w.put(p + "self_attn.k_proj.weight", interleavedToHalves(slice(wk, l, kvDim * dim), h.kvHeads(), headSize, dim));
            w.put(p + "self_attn.v_proj.weight", slice(wv, l, kvDim * dim));
            w.put(p + "self_attn.o_proj.weight", slice(wo, l, dim * dim));
            w.put(p + "post_attention_layernorm.weight", slice(rmsFfn, l, dim));
            w.put(p + "mlp.gate_proj.weight", slice(w1, l, hid * dim));
            w.put(p + "mlp.down_proj.weight", slice(w2, l, dim * hid));
            w.put(p + "mlp.up_proj.weight", slice(w3, l, hid * dim));
        }
        w.put("model.norm.weight", rmsFinal);
        if (!h.sharedHead()) w.put("lm_head.weight", take(f, h.vocab() * dim));
        return LlamaLoader.build(config(h), new MapSource(w, file), storage);
    }

    /**
     * w: [heads·D, in] with rows of each head ordered (re0, im0, re1, im1, ...) -> rows ordered
     * (re0, re1, ..., im0, im1, ...), the layout rotate-half expects.
     */
    static float[] interleavedToHalves(float[] w, int heads, int headSize, int in) {
        float[] out = new float[w.length];
        int half = headSize / 2;
        for (int hd = 0; hd < heads; hd++) {
            for (int j = 0; j < headSize; j++) {
                int src = j < half ? 2 * j : 2 * (j - half) + 1;
                System.arraycopy(w, (hd * headSize + src) * in, out, (hd * headSize + j) * in, in);
            }
        }
        return out;
    }

    private static float[] take(FloatBuffer f, int n) {
        float[] a = new float[n];
        f.get(a);
        return a;
    }

    private static float[] slice(float[] all, int layer, int n) {
        float[] a = new float[n];
        System.arraycopy(all, layer * n, a, 0, n);
        return a;
    }

    /** Weights already in memory under their Hugging Face names. */
    static final class MapSource implements LlamaLoader.WeightSource {
        private final Map<String, float[]> weights;
        private final Path file;
        private final List<String> used = new ArrayList<>();

        MapSource(Map<String, float[]> weights, Path file) {
            this.weights = weights;
            this.file = file;
        }

        @Override
        public Tensor read(String name, int... shape) {
            float[] d = weights.get(name);
            if (d == null) throw new DoraException(file + ": tensor '" + name + "' is missing");
            used.add(name);
            LlamaLoader.checkFinite(d, file, name, "F32");
            return Tensor.of(d, shape).named(name);
        }

        @Override
        public boolean has(String name) {
            return weights.containsKey(name);
        }

        @Override
        public List<String> unused() {
            List<String> rest = new ArrayList<>(weights.keySet());
            rest.removeAll(used);
            return rest;
        }

        @Override
        public Path dir() {
            return file;
        }
    }
}
