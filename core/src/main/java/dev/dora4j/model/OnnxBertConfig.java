package dev.dora4j.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The Hugging Face {@code BertConfig} of a BERT encoder imported from ONNX: what the graph shows (sizes,
 * heads, LayerNorm epsilon, activation), with transformers' defaults for what it cannot (dropout rates,
 * initializer range, absolute positions).
 */
public record OnnxBertConfig(int vocabSize, int hiddenSize, int numHiddenLayers, int numAttentionHeads,
        int intermediateSize, int maxPositionEmbeddings, int typeVocabSize, double layerNormEps, String hiddenAct,
        int padTokenId) {

    private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    /** {@code config.json} with HF field names, {@code model_type "bert"} and {@code architectures ["BertModel"]}. */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.putArray("architectures").add("BertModel");
        root.put("attention_probs_dropout_prob", 0.1);
        root.put("hidden_act", hiddenAct);
        root.put("hidden_dropout_prob", 0.1);
        root.put("hidden_size", hiddenSize);
        root.put("initializer_range", 0.02);
        root.put("intermediate_size", intermediateSize);
        root.put("layer_norm_eps", layerNormEps);
        root.put("max_position_embeddings", maxPositionEmbeddings);
        root.put("model_type", "bert");
        root.put("num_attention_heads", numAttentionHeads);
        root.put("num_hidden_layers", numHiddenLayers);
        root.put("pad_token_id", padTokenId);
        root.put("position_embedding_type", "absolute");
        root.put("torch_dtype", "float32");
        root.put("type_vocab_size", typeVocabSize);
        root.put("use_cache", true);
        root.put("vocab_size", vocabSize);
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
