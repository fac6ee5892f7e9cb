package dev.dora4j.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PEFT LoRA/DoRA {@code adapter_config.json} ({@code peft_type: "LORA"}): the fields that decide the adapter's shape and
 * semantics, with PEFT's names and defaults. Fields it does not model are kept and written back.
 */
public record AdapterConfig(
        int r,
        float loraAlpha,
        float loraDropout,
        List<String> targetModules,
        String targetModulesRegex,
        boolean useDora,
        boolean useRslora,
        Map<String, Integer> rankPattern,
        Map<String, Float> alphaPattern,
        String bias,
        List<String> modulesToSave,
        String taskType,
        String baseModelNameOrPath,
        ObjectNode extra) implements PeftConfig {

    public static final String FILE_NAME = "adapter_config.json";
    private static final ObjectMapper JSON = ConfigFields.JSON;

    public AdapterConfig {
        targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
        rankPattern = rankPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = alphaPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        bias = bias == null ? "none" : bias;
        extra = extra == null ? JSON.createObjectNode() : extra.deepCopy();
    }

    /** A fresh config as PEFT's {@code LoraConfig} would make it. */
    public static AdapterConfig create(int r, float alpha, float dropout, List<String> targets, boolean dora,
            boolean rslora, String taskType, String baseModel) {
        return new AdapterConfig(r, alpha, dropout, targets, null, dora, rslora, null, null, "none", null, taskType,
                baseModel, null);
    }

    /** LoRA, or DoRA with {@code use_dora}. */
    @Override
    public PeftMethod method() {
        return useDora ? LoraMethod.DORA : LoraMethod.LORA;
    }

    @Override
    public float dropout() {
        return loraDropout;
    }

    /** The rank of the module at {@code path}, honouring {@code rank_pattern}. */
    @Override
    public int rankFor(String path) {
        return TargetMatcher.patternValue(rankPattern, path, r);
    }

    /** The alpha of the module at {@code path}, honouring {@code alpha_pattern}. */
    public float alphaFor(String path) {
        return TargetMatcher.patternValue(alphaPattern, path, loraAlpha);
    }

    /** s = alpha / r, or alpha / sqrt(r) with rsLoRA, for the module at {@code path}. */
    public float scalingFor(String path) {
        int rank = rankFor(path);
        float alpha = alphaFor(path);
        return useRslora ? (float) (alpha / Math.sqrt(rank)) : alpha / rank;
    }

    /** Reads a LoRA/DoRA config; use {@link PeftConfig#read} for any registered method. */
    public static AdapterConfig read(Path dir) {
        return parse(ConfigFields.readTree(dir), dir.resolve(FILE_NAME).toString());
    }

    /** Parses a config object; {@code source} names it in errors. */
    public static AdapterConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new DoraException(source + ": expected a JSON object");
        String peftType = text(root, "peft_type", source, null);
        if (peftType == null) throw new DoraException(source + ": missing key 'peft_type'");
        if (!peftType.equals("LORA")) {
            PeftMethods.of(peftType, bool(root, "use_dora", source), source); // names the supported types if unknown
            throw new DoraException(source + ": peft_type '" + peftType + "' is not LORA");
        }
        int r = ConfigFields.rank(root, "r", source, 8);
        float alpha = number(root, "lora_alpha", source, 8f);
        float dropout = ConfigFields.dropout(root, "lora_dropout", source);
        ConfigFields.Targets targets = ConfigFields.targets(root, source);
        boolean dora = bool(root, "use_dora", source);
        boolean rslora = bool(root, "use_rslora", source);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (var e : ConfigFields.entries(root, "rank_pattern", source)) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() <= 0) {
                throw new DoraException(source + ": rank_pattern['" + e.getKey() + "'] must be a positive integer");
            }
            ConfigFields.checkRegex(e.getKey(), TargetMatcher.patternRegex(e.getKey()), source, "rank_pattern key");
            ranks.put(e.getKey(), e.getValue().asInt());
        }
        Map<String, Float> alphas = new LinkedHashMap<>();
        for (var e : ConfigFields.entries(root, "alpha_pattern", source)) {
            if (!e.getValue().isNumber()) throw new DoraException(source + ": alpha_pattern['" + e.getKey() + "'] must be a number");
            ConfigFields.checkRegex(e.getKey(), TargetMatcher.patternRegex(e.getKey()), source, "alpha_pattern key");
            alphas.put(e.getKey(), (float) e.getValue().asDouble());
        }
        String bias = text(root, "bias", source, "none");
        return new AdapterConfig(r, alpha, dropout, targets.names(), targets.regex(), dora, rslora, ranks, alphas, bias,
                ConfigFields.strings(root, "modules_to_save"), text(root, "task_type", source, null),
                text(root, "base_model_name_or_path", source, null), (ObjectNode) root);
    }

    /**
     * The JSON that PEFT writes for this config, keys sorted as PEFT sorts them. The fields are those
     * every PEFT release with DoRA knows (older releases refuse unknown fields); fields read from a
     * file are kept.
     */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putObject("alpha_pattern").setAll(numberMap(alphaPattern));
        o.putNull("auto_mapping");
        o.put("base_model_name_or_path", baseModelNameOrPath);
        o.put("bias", bias);
        o.put("fan_in_fan_out", false);
        o.put("inference_mode", true);
        o.put("init_lora_weights", true);
        o.putNull("layer_replication");
        o.putNull("layers_pattern");
        o.putNull("layers_to_transform");
        o.putObject("loftq_config");
        o.put("lora_alpha", cleanNumber(loraAlpha));
        o.put("lora_dropout", cleanNumber(loraDropout));
        o.putNull("megatron_config");
        o.put("megatron_core", "megatron.core");
        if (modulesToSave.isEmpty()) o.putNull("modules_to_save");
        else toStrings(o.putArray("modules_to_save"), modulesToSave);
        o.put("peft_type", "LORA");
        o.put("r", r);
        o.putObject("rank_pattern").setAll(numberMap(rankPattern));
        o.putNull("revision");
        if (targetModulesRegex != null) o.put("target_modules", targetModulesRegex);
        else toStrings(o.putArray("target_modules"), targetModules);
        o.put("task_type", taskType);
        o.put("use_dora", useDora);
        o.put("use_rslora", useRslora);
        return ConfigFields.sortedOver(extra, o);
    }

    @Override
    public String toJsonString() {
        return ConfigFields.toJsonString(toJson());
    }

    private static Map<String, JsonNode> numberMap(Map<String, ? extends Number> map) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(k, v instanceof Integer i ? JSON.getNodeFactory().numberNode(i)
                : JSON.getNodeFactory().numberNode(cleanNumber(v.floatValue()))));
        return out;
    }

    private static double cleanNumber(float f) {
        return ConfigFields.cleanNumber(f);
    }

    private static void toStrings(ArrayNode array, List<String> values) {
        values.forEach(array::add);
    }

    private static String text(JsonNode root, String key, String source, String fallback) {
        return ConfigFields.text(root, key, source, fallback);
    }

    private static float number(JsonNode root, String key, String source, float fallback) {
        return ConfigFields.number(root, key, source, fallback);
    }

    private static boolean bool(JsonNode root, String key, String source) {
        return ConfigFields.bool(root, key, source);
    }
}
