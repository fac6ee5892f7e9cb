package dev.dora4j.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiFunction;

/** Reading a model's config.json: errors name the file. */
final class ConfigFiles {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private ConfigFiles() {}

    /** The JSON of {@code file}, which must exist and be valid JSON (duplicate keys refused). */
    static JsonNode readTree(Path file) {
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": model config not found");
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** Parses {@code file} with {@code parse(root, source)}; an error about "config:" is reported against the file. */
    static <T> T read(Path file, BiFunction<JsonNode, String, T> parse) {
        JsonNode root = readTree(file);
        try {
            return parse.apply(root, file.toString());
        } catch (DoraException e) {
            String msg = e.getMessage();
            throw new DoraException(msg.startsWith("config:") ? file + msg.substring("config".length()) : msg);
        }
    }

    static void positive(int v, String key, String where) {
        if (v <= 0) throw new DoraException(where + ": key '" + key + "' must be positive, got " + v);
    }

    static int requiredInt(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new DoraException(source + ": missing key '" + key + "'");
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new DoraException(source + ": key '" + key + "' must be an integer");
        return n.asInt();
    }

    static int optionalInt(JsonNode root, String key, String source, int fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        return requiredInt(root, key, source);
    }

    static double requiredDouble(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new DoraException(source + ": missing key '" + key + "'");
        if (!n.isNumber()) throw new DoraException(source + ": key '" + key + "' must be a number");
        return n.asDouble();
    }

    static double optionalDouble(JsonNode root, String key, String source, double fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        return requiredDouble(root, key, source);
    }

    static String optionalText(JsonNode root, String key, String source, String fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isTextual()) throw new DoraException(source + ": key '" + key + "' must be a string");
        return n.asText();
    }
}
