package dev.dora4j.model;

import dev.dora4j.autograd.Checkpoint;
import dev.dora4j.autograd.RopeTable;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.nn.Embedding;
import dev.dora4j.nn.Linear;
import dev.dora4j.nn.LinearForward;
import dev.dora4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama-family causal language model as transformers' {@code LlamaForCausalLM} computes it:
 * token embedding, decoder layers, final RMSNorm and an output head (tied to the embedding or not).
 * Tensor names and module paths are Hugging Face's.
 */
public final class LlamaModel implements CausalLM {
    public static final String OUTPUT_HEAD = "lm_head";
    /** The module path of the token embedding. */
    public static final String EMBED_TOKENS = "model.embed_tokens";

    private final LlamaConfig config;
    private final Tensor embedTokens;
    private final Embedding embedding;
    private final List<LlamaBlock> layers;
    private final Tensor norm;
    private final Tensor lmHead;
    private final RopeTable rope;
    private boolean checkpointing;

    LlamaModel(LlamaConfig config, Tensor embedTokens, List<LlamaBlock> layers, Tensor norm, Tensor lmHead) {
        this.config = config;
        this.embedTokens = embedTokens;
        this.embedding = new Embedding(EMBED_TOKENS, embedTokens);
        this.layers = List.copyOf(layers);
        this.norm = norm;
        this.lmHead = lmHead;
        this.rope = RopeTable.create(config.headDim(), config.maxPositionEmbeddings(), config.ropeTheta(),
                config.ropeScalingType() == null ? null : new dev.dora4j.autograd.RopeScaling(config.ropeScalingType(),
                        config.ropeScalingFactor(), config.ropeLowFreqFactor(), config.ropeHighFreqFactor(),
                        config.ropeOriginalMaxPositions()));
    }

    public LlamaConfig config() {
        return config;
    }

    public List<LlamaBlock> layers() {
        return layers;
    }

    public Tensor embedTokens() {
        return embedTokens;
    }

    public Tensor norm() {
        return norm;
    }

    /** The output head; the embedding itself when tied. */
    public Tensor lmHead() {
        return lmHead;
    }

    public RopeTable rope() {
        return rope;
    }

    /**
     * Recomputes each decoder layer in backward instead of keeping its activations, and the logits of the loss
     * (none kept from forward to backward, at most 32 MB of them at once).
     */
    @Override
    public void activationCheckpointing(boolean on) {
        this.checkpointing = on;
    }

    /** Every linear layer by module path ({@code model.layers.0.self_attn.q_proj}, ...), in model order. */
    @Override
    public Map<String, Linear> linears() {
        Map<String, Linear> map = new LinkedHashMap<>();
        for (LlamaBlock b : layers) for (Linear l : b.linears()) map.put(l.path(), l);
        return map;
    }

    /** The token embedding, which LoRA and DoRA may adapt. */
    @Override
    public Map<String, Embedding> embeddings() {
        return Map.of(EMBED_TOKENS, embedding);
    }

    /** Every tensor by its Hugging Face name, the head only when untied. */
    @Override
    public Map<String, Tensor> namedTensors() {
        Map<String, Tensor> map = new LinkedHashMap<>();
        map.put("model.embed_tokens.weight", embedTokens);
        for (int i = 0; i < layers.size(); i++) {
            LlamaBlock b = layers.get(i);
            String p = "model.layers." + i + ".";
            map.put(p + "input_layernorm.weight", b.inputNorm);
            for (Linear l : b.linears()) {
                map.put(l.path() + ".weight", l.weight());
                if (l.bias() != null) map.put(l.path() + ".bias", l.bias());
            }
            map.put(p + "post_attention_layernorm.weight", b.postAttentionNorm);
        }
        map.put("model.norm.weight", norm);
        if (lmHead != embedTokens) map.put("lm_head.weight", lmHead);
        return map;
    }

    @Override
    public String modelType() {
        return config.modelType();
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int hiddenSize() {
        return config.hiddenSize();
    }

    @Override
    public int contextLength() {
        return config.maxPositionEmbeddings();
    }

    @Override
    public String outputHead() {
        return OUTPUT_HEAD;
    }

    /** ids: [batch·seqLen] -> final hidden states [batch·seqLen, hidden] (after the last RMSNorm). */
    @Override
    public Tensor hidden(Tape tape, int[] ids, int batch, int seqLen) {
        if (ids.length != batch * seqLen) throw new IllegalArgumentException("ids length " + ids.length + " != " + batch + "·" + seqLen);
        if (seqLen > rope.maxPositions()) {
            throw new IllegalArgumentException("sequence length " + seqLen + " exceeds max_position_embeddings " + rope.maxPositions());
        }
        int[] positions = new int[ids.length];
        for (int i = 0; i < ids.length; i++) positions[i] = i % seqLen;
        LlamaConfig c = config;
        SelfAttention causal = (t, layer, q, k, v) -> TransformerOps.causalAttention(t, q, k, v, batch, seqLen,
                c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim());
        Tensor h = embedding.forward(tape, ids);
        for (int l = 0; l < layers.size(); l++) {
            LlamaBlock block = layers.get(l);
            int layer = l;
            if (checkpointing && tape.recording()) {
                long[] dropoutAt = block.dropoutPositions();
                h = Checkpoint.apply(tape, h, (t, x) -> block.forward(t, x, layer, positions, rope, causal, LinearForward.OWN),
                        () -> block.rewindDropout(dropoutAt));
            } else {
                h = block.forward(tape, h, layer, positions, rope, causal, LinearForward.OWN);
            }
        }
        return TransformerOps.rmsNorm(tape, h, norm, config.rmsNormEps());
    }

    /** ids: [batch·seqLen] -> logits [batch·seqLen, vocab], without recording. */
    @Override
    public float[] logits(int[] ids, int batch, int seqLen) {
        return TransformerOps.logits(hidden(Tape.inference(), ids, batch, seqLen), lmHead);
    }

    @Override
    public KvCache newCache(int capacity) {
        return new KvCache(layers.size(), config.kvDim(), Math.min(capacity, config.maxPositionEmbeddings()));
    }

    @Override
    public long cacheBytes(int capacity) {
        return KvCache.bytes(layers.size(), config.kvDim(), Math.min(capacity, config.maxPositionEmbeddings()));
    }

    @Override
    public float[] decode(int[] ids, List<KvCache> caches, int[] rowCounts, LinearForward linears) {
        CachedAttention attention = new CachedAttention(config, caches, rowCounts);
        if (ids.length != attention.rows()) throw new IllegalArgumentException(ids.length + " ids for " + attention.rows() + " rows");
        for (int id : ids) {
            if (id < 0 || id >= config.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary");
        }
        Tape tape = Tape.inference();
        int[] positions = attention.positions();
        Tensor h = embedding.forward(tape, ids);
        for (int l = 0; l < layers.size(); l++) h = layers.get(l).forward(tape, h, l, positions, rope, attention, linears);
        attention.commit();
        int dim = config.hiddenSize();
        float[] last = new float[rowCounts.length * dim], hd = h.data();
        for (int s = 0, end = 0; s < rowCounts.length; s++) {
            end += rowCounts[s];
            System.arraycopy(hd, (end - 1) * dim, last, s * dim, dim);
        }
        Tensor out = TransformerOps.rmsNorm(tape, Tensor.of(last, rowCounts.length, dim), norm, config.rmsNormEps());
        return TransformerOps.logits(out, lmHead);
    }

    /**
     * The summed cross-entropy of next-token targets divided by {@code normalizer}. {@code targets}
     * is already shifted: {@code targets[i]} is the label the position {@code i} predicts, -100 for none.
     */
    @Override
    public Tensor loss(Tape tape, int[] ids, int[] targets, int batch, int seqLen, float normalizer) {
        Tensor h = hidden(tape, ids, batch, seqLen);
        return dev.dora4j.autograd.OpProfile.forward("cross_entropy",
                () -> checkpointing ? TransformerOps.crossEntropyWithHeadRecomputed(tape, h, lmHead, targets, normalizer)
                        : TransformerOps.crossEntropyWithHead(tape, h, lmHead, targets, normalizer));
    }

    /** {@link CausalLM#shiftLabels}. */
    public static int[] shiftLabels(int[] labels, int batch, int seqLen) {
        return CausalLM.shiftLabels(labels, batch, seqLen);
    }

    /** {@link CausalLM#countTargets}. */
    public static int countTargets(int[] targets) {
        return CausalLM.countTargets(targets);
    }

    List<Tensor> allTensors() {
        return new ArrayList<>(namedTensors().values());
    }
}
