package dev.dora4j.model;

import dev.dora4j.autograd.Checkpoint;
import dev.dora4j.autograd.EncoderOps;
import dev.dora4j.autograd.OpProfile;
import dev.dora4j.autograd.Ops;
import dev.dora4j.autograd.Tape;
import dev.dora4j.autograd.TransformerOps;
import dev.dora4j.nn.Linear;
import dev.dora4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder as transformers' {@code BertModel} computes it: word + position + token-type embeddings and
 * LayerNorm, then {@code num_hidden_layers} post-LayerNorm {@link BertLayer}s, and the optional pooler
 * ({@code pooler.dense} + tanh on the first token) when the checkpoint has its weights. Tensor names and module
 * paths are Hugging Face's, after {@link #prefix()} ({@code ""} as {@code BertModel} names them, {@code "bert."} as
 * {@code BertForSequenceClassification} does).
 *
 * <p>Sequences of different lengths are packed end to end, without padding: {@code offsets} (length batch + 1)
 * marks where each starts, positions restart at 0 in each, and every token attends to all tokens of its own
 * sequence. This is what transformers computes at the non-padding positions of a right-padded batch with an
 * {@code attention_mask}.
 *
 * <p>The model applies no dropout: transformers' hidden and attention dropout ({@code hidden_dropout_prob},
 * {@code attention_probs_dropout_prob}) are not applied, in training either. Adapter dropout lives in the adapters
 * ({@code LoraAdapter}).
 */
public final class BertModel implements EncoderModel {
    /** The module name of a sequence-classification head, as {@code BertForSequenceClassification} names it. */
    public static final String CLASSIFIER = "classifier";

    private final BertConfig config;
    private final String prefix;
    private final Tensor wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings, embeddingNormWeight, embeddingNormBias;
    private final List<BertLayer> layers;
    private final Linear pooler;
    private final Tensor classifierWeight, classifierBias;
    private boolean checkpointing;

    BertModel(BertConfig config, String prefix, Tensor wordEmbeddings, Tensor positionEmbeddings,
              Tensor tokenTypeEmbeddings, Tensor embeddingNormWeight, Tensor embeddingNormBias, List<BertLayer> layers,
              Linear pooler, Tensor classifierWeight, Tensor classifierBias) {
        this.config = config;
        this.prefix = prefix;
        this.wordEmbeddings = wordEmbeddings;
        this.positionEmbeddings = positionEmbeddings;
        this.tokenTypeEmbeddings = tokenTypeEmbeddings;
        this.embeddingNormWeight = embeddingNormWeight;
        this.embeddingNormBias = embeddingNormBias;
        this.layers = List.copyOf(layers);
        this.pooler = pooler;
        this.classifierWeight = classifierWeight;
        this.classifierBias = classifierBias;
    }

    @Override
    public String modelType() {
        return BertConfig.MODEL_TYPE;
    }

    @Override
    public int hiddenSize() {
        return config.hiddenSize();
    }

    @Override
    public int contextLength() {
        return config.maxPositionEmbeddings();
    }

    public BertConfig config() {
        return config;
    }

    /** The module path prefix: {@code ""} (BertModel naming) or {@code "bert."} (BertForSequenceClassification naming). */
    public String prefix() {
        return prefix;
    }

    public List<BertLayer> layers() {
        return layers;
    }

    public boolean hasPooler() {
        return pooler != null;
    }

    /** The pooler's dense layer, or null. */
    public Linear pooler() {
        return pooler;
    }

    /** {@code classifier.weight} [labels, hidden] when the checkpoint has one (frozen as loaded), else null. */
    public Tensor classifierWeight() {
        return classifierWeight;
    }

    /** {@code classifier.bias} [labels] when the checkpoint has one, else null. */
    public Tensor classifierBias() {
        return classifierBias;
    }

    /** Recomputes each encoder layer in backward instead of keeping its activations. */
    @Override
    public void activationCheckpointing(boolean on) {
        this.checkpointing = on;
    }

    /**
     * Every linear layer by module path (e.g. {@code bert.encoder.layer.0.attention.self.query}), in model order, the
     * pooler's {@code dense} last when the model has one: PEFT's target {@code dense} adapts it too.
     */
    @Override
    public Map<String, Linear> linears() {
        Map<String, Linear> map = new LinkedHashMap<>();
        for (BertLayer layer : layers) for (Linear l : layer.linears()) map.put(l.path(), l);
        if (pooler != null) map.put(pooler.path(), pooler);
        return map;
    }

    /** Every weight by its Hugging Face name (with the prefix), the pooler included when present; not the classifier. */
    @Override
    public Map<String, Tensor> namedTensors() {
        Map<String, Tensor> map = new LinkedHashMap<>();
        String e = prefix + "embeddings.";
        map.put(e + "word_embeddings.weight", wordEmbeddings);
        map.put(e + "position_embeddings.weight", positionEmbeddings);
        map.put(e + "token_type_embeddings.weight", tokenTypeEmbeddings);
        map.put(e + "LayerNorm.weight", embeddingNormWeight);
        map.put(e + "LayerNorm.bias", embeddingNormBias);
        for (int i = 0; i < layers.size(); i++) {
            BertLayer b = layers.get(i);
            String p = prefix + "encoder.layer." + i + ".";
            for (Linear l : b.linears().subList(0, 4)) putLinear(map, l);
            map.put(p + "attention.output.LayerNorm.weight", b.attentionNormWeight);
            map.put(p + "attention.output.LayerNorm.bias", b.attentionNormBias);
            for (Linear l : b.linears().subList(4, 6)) putLinear(map, l);
            map.put(p + "output.LayerNorm.weight", b.outputNormWeight);
            map.put(p + "output.LayerNorm.bias", b.outputNormBias);
        }
        if (pooler != null) putLinear(map, pooler);
        return map;
    }

    private static void putLinear(Map<String, Tensor> map, Linear l) {
        map.put(l.path() + ".weight", l.weight());
        map.put(l.path() + ".bias", l.bias());
    }

    /**
     * ids packed end to end; offsets length batch+1; tokenTypes null = all 0 -> last hidden state [N, hidden].
     * A sequence longer than {@code max_position_embeddings} is an {@link IllegalArgumentException}.
     */
    @Override
    public Tensor hidden(Tape tape, int[] ids, int[] tokenTypes, int[] offsets) {
        int batch = EncoderOps.checkOffsets(offsets, ids.length, "bert");
        int[] positions = new int[ids.length];
        for (int b = 0; b < batch; b++) {
            int len = offsets[b + 1] - offsets[b];
            if (len > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("sequence " + b + " has " + len
                        + " tokens, more than max_position_embeddings " + config.maxPositionEmbeddings());
            }
            for (int t = 0; t < len; t++) positions[offsets[b] + t] = t;
        }
        int[] types = tokenTypes != null ? tokenTypes : new int[ids.length];
        if (types.length != ids.length) {
            throw new IllegalArgumentException(types.length + " token types for " + ids.length + " tokens");
        }
        int[] offs = offsets.clone();
        Tensor h = OpProfile.forward("embedding", () -> {
            Tensor words = TransformerOps.embedding(tape, ids, wordEmbeddings);
            Tensor withTypes = Ops.add(tape, words, TransformerOps.embedding(tape, types, tokenTypeEmbeddings));
            return Ops.add(tape, withTypes, TransformerOps.embedding(tape, positions, positionEmbeddings));
        });
        Tensor h0 = h;
        h = OpProfile.forward("layer_norm", () -> EncoderOps.layerNorm(tape, h0, embeddingNormWeight, embeddingNormBias,
                config.layerNormEps()));
        for (BertLayer layer : layers) {
            if (checkpointing && tape.recording()) {
                long[] dropoutAt = layer.dropoutPositions();
                h = Checkpoint.apply(tape, h, (t, x) -> layer.forward(t, x, offs), () -> layer.rewindDropout(dropoutAt));
            } else {
                h = layer.forward(tape, h, offs);
            }
        }
        return h;
    }

    /**
     * "mean" (mean over each sequence) or "cls" (first token, then pooler dense+tanh when the model has one) ->
     * [batch, hidden].
     */
    @Override
    public Tensor pool(Tape tape, Tensor hidden, int[] offsets, String pooling) {
        int batch = EncoderOps.checkOffsets(offsets, hidden.rows(), "pool");
        switch (pooling) {
            case "mean" -> {
                return OpProfile.forward("pool", () -> EncoderOps.meanPool(tape, hidden, offsets));
            }
            case "cls" -> {
                int[] first = java.util.Arrays.copyOf(offsets, batch);
                Tensor cls = OpProfile.forward("pool", () -> EncoderOps.selectRows(tape, hidden, first));
                if (pooler == null) return cls;
                Tensor dense = pooler.profiledForward(tape, cls);
                return OpProfile.forward("tanh", () -> EncoderOps.tanh(tape, dense));
            }
            default -> throw new IllegalArgumentException("pooling '" + pooling + "' is not one of mean, cls");
        }
    }
}
