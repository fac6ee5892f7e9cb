package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.dora4j.DoraException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model directory's architecture family without loading it, so that commands can choose a loader:
 * {@code "bert"} for {@link BertLoader}, {@code "llama"}, {@code "mistral"} or {@code "qwen2"} for
 * {@link LlamaLoader}.
 */
public final class ModelTypes {

    private ModelTypes() {}

    /**
     * The {@code model_type} of {@code path}/config.json (or, when it has none, the family its {@code architectures}
     * name, e.g. {@code BertForSequenceClassification} -> {@code "bert"}); {@code "llama"} for a llama2.c checkpoint
     * file. A missing or unreadable config.json, or one that names no model type, is an error naming the file.
     */
    public static String modelType(Path path) {
        if (Files.isRegularFile(path)) return "llama";
        Path file = path.resolve("config.json");
        JsonNode root = ConfigFiles.readTree(file);
        if (root == null || !root.isObject()) throw new DoraException(file + ": expected a JSON object");
        String type = modelType(root);
        if (type == null) throw new DoraException(file + ": missing key 'model_type' (and no known 'architectures')");
        return type;
    }

    /** True when {@link #modelType(Path)} is {@code "bert"}. */
    public static boolean isBert(Path path) {
        return BertConfig.MODEL_TYPE.equals(modelType(path));
    }

    /** {@code model_type}, else the family of the first entry of {@code architectures}, else null. */
    static String modelType(JsonNode root) {
        JsonNode t = root.get("model_type");
        if (t != null && t.isTextual()) return t.asText();
        JsonNode arch = root.path("architectures").path(0);
        if (!arch.isTextual()) return null;
        String a = arch.asText();
        for (String[] family : new String[][] {{"Bert", "bert"}, {"Llama", "llama"}, {"Mistral", "mistral"},
                {"Qwen2", "qwen2"}}) {
            if (a.startsWith(family[0]) && (a.length() == family[0].length()
                    || Character.isUpperCase(a.charAt(family[0].length())))) {
                return family[1];
            }
        }
        return null;
    }
}
