package dev.dora4j.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The configuration of a Llama-family decoder (Llama, Mistral, Qwen2, SmolLM, TinyLlama), with the
 * field names of Hugging Face's {@code config.json}.
 *
 * @param ropeScalingType null, "linear" or "llama3"
 * @param attentionBias   biases on q, k and v (Qwen2 always; Llama with {@code attention_bias})
 */
public record LlamaConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        int vocabSize,
        int maxPositionEmbeddings,
        float rmsNormEps,
        double ropeTheta,
        String ropeScalingType,
        double ropeScalingFactor,
        double ropeLowFreqFactor,
        double ropeHighFreqFactor,
        int ropeOriginalMaxPositions,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int bosTokenId,
        int eosTokenId) {

    public static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    /** The most cosine (and as many sine) entries the rotary table may hold: max_position_embeddings × head_dim / 2. */
    static final long MAX_ROPE_ENTRIES = 1L << 28;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(SerializationFeature.INDENT_OUTPUT);

    public LlamaConfig {
        String where = "config";
        ConfigFiles.positive(hiddenSize, "hidden_size", where);
        ConfigFiles.positive(intermediateSize, "intermediate_size", where);
        ConfigFiles.positive(numHiddenLayers, "num_hidden_layers", where);
        ConfigFiles.positive(numAttentionHeads, "num_attention_heads", where);
        ConfigFiles.positive(numKeyValueHeads, "num_key_value_heads", where);
        ConfigFiles.positive(headDim, "head_dim", where);
        ConfigFiles.positive(vocabSize, "vocab_size", where);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new DoraException(where + ": num_attention_heads " + numAttentionHeads
                    + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
        }
        if (headDim % 2 != 0) throw new DoraException(where + ": head_dim " + headDim + " must be even for rotary embeddings");
        ConfigFiles.positive(maxPositionEmbeddings, "max_position_embeddings", where);
        if ((long) maxPositionEmbeddings * (headDim / 2) > MAX_ROPE_ENTRIES) {
            throw new DoraException(where + ": max_position_embeddings " + maxPositionEmbeddings + " with head_dim " + headDim
                    + " needs a rotary table larger than " + MAX_ROPE_ENTRIES + " entries");
        }
        if (!(rmsNormEps > 0f && Float.isFinite(rmsNormEps))) {
            throw new DoraException(where + ": key 'rms_norm_eps' must be positive and finite, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0 && Double.isFinite(ropeTheta))) {
            throw new DoraException(where + ": key 'rope_theta' must be positive and finite, got " + ropeTheta);
        }
        if (ropeScalingType != null && !(ropeScalingFactor > 0 && Double.isFinite(ropeScalingFactor))) {
            throw new DoraException(where + ": rope_scaling 'factor' must be positive and finite, got " + ropeScalingFactor);
        }
    }

    public int kvDim() {
        return numKeyValueHeads * headDim;
    }

    public int qDim() {
        return numAttentionHeads * headDim;
    }

    public static LlamaConfig read(Path file) {
        return ConfigFiles.read(file, LlamaConfig::parse);
    }

    public static LlamaConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new DoraException(source + ": expected a JSON object");
        String type = root.path("model_type").asText(null);
        if (type == null) throw new DoraException(source + ": missing key 'model_type'");
        if (!MODEL_TYPES.contains(type)) {
            String hint = type.equals("bert") ? "; BERT encoders are trained with --task classify and embed with the embed command" : "";
            throw new DoraException(source + ": model_type '" + type + "' is not supported (supported: llama, mistral, qwen2)" + hint);
        }
        int hidden = ConfigFiles.requiredInt(root, "hidden_size", source);
        int heads = ConfigFiles.requiredInt(root, "num_attention_heads", source);
        int kvHeads = ConfigFiles.optionalInt(root, "num_key_value_heads", source, heads);
        int headDim = ConfigFiles.optionalInt(root, "head_dim", source, heads > 0 ? hidden / heads : 0);
        String scalingType = null;
        double factor = 1, low = 1, high = 4;
        int original = 0;
        JsonNode rs = root.get("rope_scaling");
        if (rs != null && !rs.isNull()) {
            if (!rs.isObject()) throw new DoraException(source + ": key 'rope_scaling' must be an object or null");
            scalingType = rs.has("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText(null);
            if (scalingType == null) throw new DoraException(source + ": rope_scaling has no 'rope_type'");
            if (scalingType.equals("default")) {
                scalingType = null;
            } else if (!scalingType.equals("linear") && !scalingType.equals("llama3")) {
                throw new DoraException(source + ": rope_scaling type '" + scalingType + "' is not supported (linear, llama3)");
            } else {
                factor = ConfigFiles.requiredDouble(rs, "factor", source + ": rope_scaling");
                if (scalingType.equals("llama3")) {
                    low = ConfigFiles.requiredDouble(rs, "low_freq_factor", source + ": rope_scaling");
                    high = ConfigFiles.requiredDouble(rs, "high_freq_factor", source + ": rope_scaling");
                    original = (int) ConfigFiles.requiredDouble(rs, "original_max_position_embeddings", source + ": rope_scaling");
                }
            }
        }
        boolean bias = type.equals("qwen2") || root.path("attention_bias").asBoolean(false);
        int eos = root.path("eos_token_id").isArray() ? root.path("eos_token_id").path(0).asInt(-1)
                : root.path("eos_token_id").asInt(-1);
        return new LlamaConfig(type, hidden, ConfigFiles.requiredInt(root, "intermediate_size", source),
                ConfigFiles.requiredInt(root, "num_hidden_layers", source), heads, kvHeads, headDim,
                ConfigFiles.requiredInt(root, "vocab_size", source), ConfigFiles.optionalInt(root, "max_position_embeddings", source, 2048),
                (float) ConfigFiles.optionalDouble(root, "rms_norm_eps", source, 1e-6), ConfigFiles.optionalDouble(root, "rope_theta", source, 10000.0),
                scalingType, factor, low, high, original,
                root.path("tie_word_embeddings").asBoolean(false), bias,
                root.path("bos_token_id").asInt(-1), eos);
    }

    /** The config.json that transformers would write for this model. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        String arch = switch (modelType) {
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "LlamaForCausalLM";
        };
        o.putArray("architectures").add(arch);
        o.put("model_type", modelType);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", numHiddenLayers);
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_key_value_heads", numKeyValueHeads);
        o.put("head_dim", headDim);
        o.put("vocab_size", vocabSize);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("rms_norm_eps", Double.parseDouble(Float.toString(rmsNormEps)));
        o.put("rope_theta", ropeTheta);
        if (ropeScalingType == null) {
            o.putNull("rope_scaling");
        } else {
            ObjectNode rs = o.putObject("rope_scaling");
            rs.put("rope_type", ropeScalingType);
            rs.put("factor", ropeScalingFactor);
            if (ropeScalingType.equals("llama3")) {
                rs.put("low_freq_factor", ropeLowFreqFactor);
                rs.put("high_freq_factor", ropeHighFreqFactor);
                rs.put("original_max_position_embeddings", ropeOriginalMaxPositions);
            }
        }
        o.put("tie_word_embeddings", tieWordEmbeddings);
        if (!modelType.equals("qwen2")) o.put("attention_bias", attentionBias);
        o.put("hidden_act", "silu");
        if (bosTokenId >= 0) o.put("bos_token_id", bosTokenId);
        if (eosTokenId >= 0) o.put("eos_token_id", eosTokenId);
        o.put("torch_dtype", "float32");
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new DoraException("cannot serialise config: " + e.getMessage(), e);
        }
    }
}
