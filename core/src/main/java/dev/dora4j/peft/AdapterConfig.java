package dev.dora4j.peft;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT LoRA/DoRA {@code adapter_config.json}: the fields that decide the adapter's shape and
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
        ObjectNode extra) {

    public static final String FILE_NAME = "adapter_config.json";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(SerializationFeature.INDENT_OUTPUT);

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

    /** The rank of the module at {@code path}, honouring {@code rank_pattern}. */
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

    public static AdapterConfig read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": adapter config not found");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        return parse(root, file.toString());
    }

    /** Parses a config object; {@code source} names it in errors. */
    public static AdapterConfig parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) throw new DoraException(source + ": expected a JSON object");
        String peftType = text(root, "peft_type", source, null);
        if (peftType == null) throw new DoraException(source + ": missing key 'peft_type'");
        if (!peftType.equals("LORA")) {
            throw new DoraException(source + ": peft_type '" + peftType + "' is not supported (only LORA, with or without use_dora)");
        }
        int r = integer(root, "r", source, 8);
        if (r <= 0) throw new DoraException(source + ": key 'r' must be a positive rank, got " + r);
        float alpha = number(root, "lora_alpha", source, 8f);
        float dropout = number(root, "lora_dropout", source, 0f);
        if (!(dropout >= 0f && dropout < 1f)) throw new DoraException(source + ": key 'lora_dropout' must be in [0, 1), got " + dropout);
        List<String> targets = new ArrayList<>();
        String regex = null;
        JsonNode t = root.get("target_modules");
        if (t == null || t.isNull()) {
            throw new DoraException(source + ": key 'target_modules' is missing or null; name the modules to adapt");
        } else if (t.isTextual()) {
            regex = t.asText();
            if (!regex.equals(TargetMatcher.ALL_LINEAR)) checkRegex(regex, regex, source, "key 'target_modules'");
        } else if (t.isArray()) {
            for (JsonNode n : t) {
                if (!n.isTextual()) throw new DoraException(source + ": key 'target_modules' must hold strings");
                targets.add(n.asText());
            }
        } else {
            throw new DoraException(source + ": key 'target_modules' must be a list or a string");
        }
        boolean dora = bool(root, "use_dora", source);
        boolean rslora = bool(root, "use_rslora", source);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (var e : entries(root, "rank_pattern", source)) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() <= 0) {
                throw new DoraException(source + ": rank_pattern['" + e.getKey() + "'] must be a positive integer");
            }
            checkRegex(e.getKey(), TargetMatcher.patternRegex(e.getKey()), source, "rank_pattern key");
            ranks.put(e.getKey(), e.getValue().asInt());
        }
        Map<String, Float> alphas = new LinkedHashMap<>();
        for (var e : entries(root, "alpha_pattern", source)) {
            if (!e.getValue().isNumber()) throw new DoraException(source + ": alpha_pattern['" + e.getKey() + "'] must be a number");
            checkRegex(e.getKey(), TargetMatcher.patternRegex(e.getKey()), source, "alpha_pattern key");
            alphas.put(e.getKey(), (float) e.getValue().asDouble());
        }
        String bias = text(root, "bias", source, "none");
        List<String> toSave = new ArrayList<>();
        JsonNode m = root.get("modules_to_save");
        if (m != null && m.isArray()) for (JsonNode n : m) toSave.add(n.asText());
        return new AdapterConfig(r, alpha, dropout, targets, regex, dora, rslora, ranks, alphas, bias, toSave,
                text(root, "task_type", source, null), text(root, "base_model_name_or_path", source, null),
                (ObjectNode) root);
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
        ObjectNode merged = extra.deepCopy();
        merged.setAll(o);
        ObjectNode sorted = JSON.createObjectNode();
        new java.util.TreeMap<>(merged.properties().stream()
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))).forEach(sorted::set);
        return sorted;
    }

    public String toJsonString() {
        try {
            return JSON.writeValueAsString(toJson()) + "\n";
        } catch (IOException e) {
            throw new DoraException("cannot serialise adapter config: " + e.getMessage(), e);
        }
    }

    private static Map<String, JsonNode> numberMap(Map<String, ? extends Number> map) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(k, v instanceof Integer i ? JSON.getNodeFactory().numberNode(i)
                : JSON.getNodeFactory().numberNode(cleanNumber(v.floatValue()))));
        return out;
    }

    private static double cleanNumber(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    private static void toStrings(ArrayNode array, List<String> values) {
        values.forEach(array::add);
    }

    private static Iterable<Map.Entry<String, JsonNode>> entries(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return List.of();
        if (!n.isObject()) throw new DoraException(source + ": key '" + key + "' must be an object");
        List<Map.Entry<String, JsonNode>> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) list.add(it.next());
        return list;
    }

    /** PEFT reads target_modules strings and pattern keys as regular expressions; a broken one is refused here. */
    private static void checkRegex(String value, String regex, String source, String what) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new DoraException(source + ": " + what + " '" + value + "' is not a valid regular expression: "
                    + e.getDescription() + " near index " + e.getIndex());
        }
    }

    private static String text(JsonNode root, String key, String source, String fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isTextual()) throw new DoraException(source + ": key '" + key + "' must be a string");
        return n.asText();
    }

    private static int integer(JsonNode root, String key, String source, int fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw new DoraException(source + ": key '" + key + "' must be an integer");
        return n.asInt();
    }

    private static float number(JsonNode root, String key, String source, float fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new DoraException(source + ": key '" + key + "' must be a number");
        return (float) n.asDouble();
    }

    private static boolean bool(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return false;
        if (!n.isBoolean()) throw new DoraException(source + ": key '" + key + "' must be true or false");
        return n.asBoolean();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
