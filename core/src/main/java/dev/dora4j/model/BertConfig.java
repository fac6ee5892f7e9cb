package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The configuration of a BERT encoder (transformers' {@code BertConfig}), with the field names of Hugging Face's
 * {@code config.json}. Optional fields take transformers' defaults.
 *
 * @param hiddenAct  only {@code "gelu"} (the exact, erf-based GELU) is supported
 * @param numLabels  the number of classes of a classification head: the size of {@code id2label} when present,
 *                   else {@code num_labels}, else 0 (not given)
 * @param id2label   class names by index, empty when config.json has none
 */
public record BertConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int intermediateSize,
        String hiddenAct,
        int maxPositionEmbeddings,
        int typeVocabSize,
        float layerNormEps,
        double initializerRange,
        int padTokenId,
        String positionEmbeddingType,
        int numLabels,
        Map<Integer, String> id2label) {

    public static final String MODEL_TYPE = "bert";

    public BertConfig {
        String where = "config";
        ConfigFiles.positive(vocabSize, "vocab_size", where);
        ConfigFiles.positive(hiddenSize, "hidden_size", where);
        ConfigFiles.positive(numHiddenLayers, "num_hidden_layers", where);
        ConfigFiles.positive(numAttentionHeads, "num_attention_heads", where);
        ConfigFiles.positive(intermediateSize, "intermediate_size", where);
        ConfigFiles.positive(maxPositionEmbeddings, "max_position_embeddings", where);
        ConfigFiles.positive(typeVocabSize, "type_vocab_size", where);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new DoraException(where + ": hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
                    + numAttentionHeads);
        }
        if (!"gelu".equals(hiddenAct)) {
            throw new DoraException(where + ": hidden_act '" + hiddenAct + "' is not supported (supported: gelu)");
        }
        if (!"absolute".equals(positionEmbeddingType)) {
            throw new DoraException(where + ": position_embedding_type '" + positionEmbeddingType
                    + "' is not supported (supported: absolute)");
        }
        if (!(layerNormEps > 0f && Float.isFinite(layerNormEps))) {
            throw new DoraException(where + ": key 'layer_norm_eps' must be positive and finite, got " + layerNormEps);
        }
        if (numLabels < 0) throw new DoraException(where + ": key 'num_labels' must not be negative, got " + numLabels);
        id2label = Collections.unmodifiableMap(new TreeMap<>(id2label == null ? Map.of() : id2label));
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Reads config.json; errors name the file. */
    public static BertConfig read(Path file) {
        return ConfigFiles.read(file, BertConfig::parse);
    }

    public static BertConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new DoraException(source + ": expected a JSON object");
        String type = ModelTypes.modelType(root);
        if (type == null) throw new DoraException(source + ": missing key 'model_type'");
        if (!MODEL_TYPE.equals(type)) {
            throw new DoraException(source + ": model_type '" + type + "' is not a BERT model (supported: bert)");
        }
        Map<Integer, String> labels = new TreeMap<>();
        JsonNode id2label = root.get("id2label");
        if (id2label != null && !id2label.isNull()) {
            if (!id2label.isObject()) throw new DoraException(source + ": key 'id2label' must be an object");
            for (Iterator<Map.Entry<String, JsonNode>> it = id2label.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new DoraException(source + ": id2label key '" + e.getKey() + "' is not an integer");
                }
                if (!e.getValue().isTextual()) throw new DoraException(source + ": id2label '" + id + "' must be a string");
                labels.put(id, e.getValue().asText());
            }
            for (int i = 0; i < labels.size(); i++) {
                if (!labels.containsKey(i)) {
                    throw new DoraException(source + ": id2label has " + labels.size() + " entries but no label " + i);
                }
            }
        }
        int numLabels = !labels.isEmpty() ? labels.size() : ConfigFiles.optionalInt(root, "num_labels", source, 0);
        return new BertConfig(type,
                ConfigFiles.requiredInt(root, "vocab_size", source),
                ConfigFiles.requiredInt(root, "hidden_size", source),
                ConfigFiles.requiredInt(root, "num_hidden_layers", source),
                ConfigFiles.requiredInt(root, "num_attention_heads", source),
                ConfigFiles.requiredInt(root, "intermediate_size", source),
                ConfigFiles.optionalText(root, "hidden_act", source, "gelu"),
                ConfigFiles.optionalInt(root, "max_position_embeddings", source, 512),
                ConfigFiles.optionalInt(root, "type_vocab_size", source, 2),
                (float) ConfigFiles.optionalDouble(root, "layer_norm_eps", source, 1e-12),
                ConfigFiles.optionalDouble(root, "initializer_range", source, 0.02),
                ConfigFiles.optionalInt(root, "pad_token_id", source, 0),
                ConfigFiles.optionalText(root, "position_embedding_type", source, "absolute"),
                numLabels, labels);
    }
}
