package dev.dora4j.generate;

import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.kernel.VecOps;
import dev.dora4j.model.LlamaBlock;
import dev.dora4j.model.LlamaConfig;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Autoregressive decoding with a KV cache: each step runs one token through the model, keeping
 * every layer's rotated keys and values, so step t costs O(t) attention instead of a full
 * recomputation. Linear layers run as they are (merged, plain or with an unmerged adapter).
 */
public final class Generator {
    private final LlamaModel model;
    private final LlamaConfig c;
    private final float[][] keys, values;
    private final int capacity;
    private int length;

    public Generator(LlamaModel model, int capacity) {
        this.model = model;
        this.c = model.config();
        this.capacity = Math.min(capacity, c.maxPositionEmbeddings());
        int layers = c.numHiddenLayers();
        keys = new float[layers][this.capacity * c.kvDim()];
        values = new float[layers][this.capacity * c.kvDim()];
    }

    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Runs {@code token} at the next position and returns the logits for the position after it. */
    public float[] step(int token) {
        if (length >= capacity) throw new IllegalStateException("context of " + capacity + " tokens is full");
        if (token < 0 || token >= c.vocabSize()) throw new IllegalArgumentException("token id " + token + " outside the vocabulary");
        Tape tape = Tape.inference();
        int pos = length;
        int[] positions = {pos};
        Tensor h = TransformerOps.embedding(tape, new int[] {token}, model.embedTokens());
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            LlamaBlock b = model.layers().get(l);
            List<Linear> lin = b.linears();
            Tensor x = TransformerOps.rmsNorm(tape, h, b.inputNorm(), c.rmsNormEps());
            Tensor q = TransformerOps.rope(tape, lin.get(0).forward(tape, x), c.numAttentionHeads(), model.rope(), positions);
            Tensor k = TransformerOps.rope(tape, lin.get(1).forward(tape, x), c.numKeyValueHeads(), model.rope(), positions);
            Tensor v = lin.get(2).forward(tape, x);
            System.arraycopy(k.data(), 0, keys[l], pos * c.kvDim(), c.kvDim());
            System.arraycopy(v.data(), 0, values[l], pos * c.kvDim(), c.kvDim());
            Tensor a = Tensor.of(attend(q.data(), keys[l], values[l], pos + 1), 1, c.qDim());
            h = Ops.add(tape, h, lin.get(3).forward(tape, a));
            Tensor y = TransformerOps.rmsNorm(tape, h, b.postAttentionNorm(), c.rmsNormEps());
            Tensor m = lin.get(6).forward(tape, TransformerOps.swiglu(tape, lin.get(4).forward(tape, y), lin.get(5).forward(tape, y)));
            h = Ops.add(tape, h, m);
        }
        length++;
        Tensor out = TransformerOps.rmsNorm(tape, h, model.norm(), c.rmsNormEps());
        return TransformerOps.logits(out, model.lmHead());
    }

    /** q: [heads·D] against cached k, v: [n, kvHeads·D] -> [heads·D]. */
    private float[] attend(float[] q, float[] k, float[] v, int n) {
        int heads = c.numAttentionHeads(), d = c.headDim(), kvDim = c.kvDim(), group = heads / c.numKeyValueHeads();
        float scale = (float) (1.0 / Math.sqrt(d));
        float[] out = new float[heads * d];
        float[] scores = new float[n];
        for (int h = 0; h < heads; h++) {
            int kvOff = (h / group) * d;
            float max = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < n; t++) {
                scores[t] = VecOps.dot(q, h * d, k, t * kvDim + kvOff, d) * scale;
                max = Math.max(max, scores[t]);
            }
            float sum = 0;
            for (int t = 0; t < n; t++) sum += scores[t] = (float) Math.exp(scores[t] - max);
            float inv = 1f / sum;
            for (int t = 0; t < n; t++) VecOps.axpy(scores[t] * inv, v, t * kvDim + kvOff, out, h * d, d);
        }
        return out;
    }

    /**
     * Feeds {@code prompt} and then samples up to {@code maxNew} tokens, stopping early after a
     * token for which {@code stop} is true (that token is included) or when the context is full.
     * Returns the generated ids only.
     */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, IntPredicate stop, TokenListener listener) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt needs at least one token (BOS)");
        float[] logits = null;
        for (int t : prompt) logits = step(t);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < maxNew; i++) {
            int next = sampler.sample(logits);
            out.add(next);
            if (listener != null) listener.accept(next);
            if (stop.test(next) || length >= capacity) break;
            logits = step(next);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Receives each token as it is generated. */
    @FunctionalInterface
    public interface TokenListener {
        void accept(int token);
    }
}
