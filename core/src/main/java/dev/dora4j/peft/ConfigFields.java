package dev.dora4j.peft;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Typed fields of a PEFT {@code adapter_config.json}, shared by every method's config reader: each
 * wrong type is reported with the file and the key.
 */
public final class ConfigFields {
    public static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(SerializationFeature.INDENT_OUTPUT);

    /** {@code target_modules}: a list of names, or one regular expression (or {@code all-linear}). */
    public record Targets(List<String> names, String regex) {}

    private ConfigFields() {}

    /** The JSON object of {@code dir/adapter_config.json}. */
    public static JsonNode readTree(Path dir) {
        Path file = dir.resolve(AdapterConfig.FILE_NAME);
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": adapter config not found");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) throw new DoraException(file + ": expected a JSON object");
        return root;
    }

    public static Targets targets(JsonNode root, String source) {
        List<String> targets = new ArrayList<>();
        JsonNode t = root.get("target_modules");
        if (t == null || t.isNull()) {
            throw new DoraException(source + ": key 'target_modules' is missing or null; name the modules to adapt");
        } else if (t.isTextual()) {
            String regex = t.asText();
            if (!regex.equals(TargetMatcher.ALL_LINEAR)) checkRegex(regex, regex, source, "key 'target_modules'");
            return new Targets(List.of(), regex);
        } else if (t.isArray()) {
            for (JsonNode n : t) {
                if (!n.isTextual()) throw new DoraException(source + ": key 'target_modules' must hold strings");
                targets.add(n.asText());
            }
        } else {
            throw new DoraException(source + ": key 'target_modules' must be a list or a string");
        }
        return new Targets(targets, null);
    }

    public static List<String> strings(JsonNode root, String key) {
        List<String> out = new ArrayList<>();
        JsonNode m = root.get(key);
        if (m != null && m.isArray()) for (JsonNode n : m) out.add(n.asText());
        return out;
    }

    /** A positive rank under {@code key}, or {@code fallback}. */
    public static int rank(JsonNode root, String key, String source, int fallback) {
        int r = integer(root, key, source, fallback);
        if (r <= 0) throw new DoraException(source + ": key '" + key + "' must be a positive rank, got " + r);
        return r;
    }

    /** A dropout probability in [0, 1) under {@code key}, or 0. */
    public static float dropout(JsonNode root, String key, String source) {
        float p = number(root, key, source, 0f);
        if (!(p >= 0f && p < 1f)) throw new DoraException(source + ": key '" + key + "' must be in [0, 1), got " + p);
        return p;
    }

    static Iterable<Map.Entry<String, JsonNode>> entries(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return List.of();
        if (!n.isObject()) throw new DoraException(source + ": key '" + key + "' must be an object");
        List<Map.Entry<String, JsonNode>> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) list.add(it.next());
        return list;
    }

    /** PEFT reads target_modules strings and pattern keys as regular expressions; a broken one is refused here. */
    static void checkRegex(String value, String regex, String source, String what) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new DoraException(source + ": " + what + " '" + value + "' is not a valid regular expression: "
                    + e.getDescription() + " near index " + e.getIndex());
        }
    }

    public static String text(JsonNode root, String key, String source, String fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isTextual()) throw new DoraException(source + ": key '" + key + "' must be a string");
        return n.asText();
    }

    public static int integer(JsonNode root, String key, String source, int fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw new DoraException(source + ": key '" + key + "' must be an integer");
        return n.asInt();
    }

    public static long longInteger(JsonNode root, String key, String source, long fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.canConvertToLong() || !n.isIntegralNumber()) throw new DoraException(source + ": key '" + key + "' must be an integer");
        return n.asLong();
    }

    public static float number(JsonNode root, String key, String source, float fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new DoraException(source + ": key '" + key + "' must be a number");
        return (float) n.asDouble();
    }

    public static boolean bool(JsonNode root, String key, String source) {
        return bool(root, key, source, false);
    }

    public static boolean bool(JsonNode root, String key, String source, boolean fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isBoolean()) throw new DoraException(source + ": key '" + key + "' must be true or false");
        return n.asBoolean();
    }

    /** A float as the shortest decimal that reads back as it, for JSON written as Python writes it. */
    public static double cleanNumber(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    /** {@code fields} over {@code extra} (the fields read from a file), keys sorted as PEFT sorts them. */
    public static ObjectNode sortedOver(ObjectNode extra, ObjectNode fields) {
        ObjectNode merged = extra.deepCopy();
        merged.setAll(fields);
        ObjectNode sorted = JSON.createObjectNode();
        new TreeMap<String, JsonNode>(merged.properties().stream()
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))).forEach(sorted::set);
        return sorted;
    }

    public static String toJsonString(ObjectNode node) {
        try {
            return JSON.writeValueAsString(node) + "\n";
        } catch (IOException e) {
            throw new DoraException("cannot serialise adapter config: " + e.getMessage(), e);
        }
    }

    static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
