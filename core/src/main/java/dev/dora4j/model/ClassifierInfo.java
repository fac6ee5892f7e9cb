package dev.dora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code classification.json} beside a trained classifier (adapter or model directory): the label of each class index
 * and the pooling the head was trained on, {@code {"labels": ["0", "1"], "pooling": "mean"}}. PEFT's adapter format has
 * no place for either; transformers keeps labels in config.json's {@code id2label}.
 */
public record ClassifierInfo(List<String> labels, String pooling) {
    public static final String FILE_NAME = "classification.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static void write(Path dir, List<String> labels, String pooling) {
        ObjectNode o = JSON.createObjectNode();
        var arr = o.putArray("labels");
        labels.forEach(arr::add);
        o.put("pooling", pooling);
        try {
            AtomicFiles.writeString(dir.resolve(FILE_NAME), JSON.writeValueAsString(o) + "\n");
        } catch (IOException e) {
            throw new DoraException(dir.resolve(FILE_NAME) + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** The file in {@code dir}, or null when there is none. */
    public static ClassifierInfo read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) return null;
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        JsonNode labels = root.get("labels");
        if (labels == null || !labels.isArray() || labels.size() < 2) {
            throw new DoraException(file + ": 'labels' must be an array of at least two labels");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode l : labels) {
            if (!l.isTextual()) throw new DoraException(file + ": every label must be a string");
            out.add(l.asText());
        }
        JsonNode pooling = root.get("pooling");
        String p = pooling == null || pooling.isNull() ? null : pooling.asText();
        if (p != null && !p.equals("mean") && !p.equals("cls")) throw new DoraException(file + ": 'pooling' must be mean or cls, got " + p);
        return new ClassifierInfo(List.copyOf(out), p);
    }
}
