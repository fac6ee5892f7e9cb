package dev.dora4j.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * Reads a dataset file: a JSON array of records, or JSON Lines (one record per line, blank lines
 * skipped). Every malformed line or record is reported with the file and its line (JSONL) or
 * index (JSON array).
 */
public final class DatasetReader {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private DatasetReader() {}

    public static List<Record> read(Path file) {
        if (!Files.isRegularFile(file)) throw new DoraException(file + ": data file not found");
        String content;
        try {
            content = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new DoraException(file + ": not valid UTF-8 text");
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (content.startsWith("\uFEFF")) content = content.substring(1);
        List<Record> records = records(file, content, DatasetReader::parse);
        if (records.isEmpty()) throw new DoraException(file + ": holds no records");
        return records;
    }

    /**
     * The records of a JSON array or of JSON Lines (blank lines skipped), each made by {@code parse(node, where)} with
     * {@code where} naming the file and its line (JSONL) or index (array).
     */
    static <T> List<T> records(Path file, String content, BiFunction<JsonNode, String, T> parse) {
        String trimmed = content.stripLeading();
        return trimmed.startsWith("[") ? readArray(file, trimmed, parse) : readLines(file, content, parse);
    }

    private static <T> List<T> readArray(Path file, String content, BiFunction<JsonNode, String, T> parse) {
        JsonNode root;
        try {
            root = JSON.readTree(content);
        } catch (JsonProcessingException e) {
            long line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
            throw new DoraException(file + ":" + line + ": not valid JSON: " + describe(e));
        }
        List<T> out = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) out.add(parse.apply(root.get(i), file + " record " + i));
        return out;
    }

    private static <T> List<T> readLines(Path file, String content, BiFunction<JsonNode, String, T> parse) {
        List<T> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new java.io.StringReader(content))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                String where = file + ":" + n;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new DoraException(where + ": not valid JSON: " + describe(e));
                }
                out.add(parse.apply(node, where));
            }
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
        return out;
    }

    private static String describe(JsonProcessingException e) {
        String message = e.getOriginalMessage() == null ? "" : e.getOriginalMessage().lines().findFirst().orElse("");
        return message.startsWith("Trailing token") ? "more content after the first JSON value" : message;
    }

    /** One record; {@code where} names its file and line for errors. */
    public static Record parse(JsonNode node, String where) {
        if (node == null || !node.isObject()) throw new DoraException(where + ": a record must be a JSON object");
        if (node.has("input_ids")) {
            int[] ids = ints(node.get("input_ids"), where, "input_ids");
            if (ids.length == 0) throw new DoraException(where + ": 'input_ids' is empty");
            int[] labels = node.has("labels") && !node.get("labels").isNull() ? ints(node.get("labels"), where, "labels") : ids.clone();
            if (labels.length != ids.length) {
                throw new DoraException(where + ": 'labels' has " + labels.length + " entries but 'input_ids' has " + ids.length);
            }
            for (int id : ids) if (id < 0) throw new DoraException(where + ": 'input_ids' holds a negative id " + id);
            for (int l : labels) if (l < 0 && l != -100) throw new DoraException(where + ": 'labels' holds " + l + " (only ids and -100 are allowed)");
            return new Record.Tokenized(where, ids, labels);
        }
        if (node.has("instruction")) {
            return new Record.Alpaca(where, text(node, "instruction", where, true), text(node, "input", where, false),
                    text(node, "output", where, true));
        }
        if (node.has("prompt") || node.has("completion")) {
            return new Record.PromptCompletion(where, text(node, "prompt", where, true), text(node, "completion", where, true));
        }
        if (node.has("text")) return new Record.Text(where, text(node, "text", where, true));
        throw new DoraException(where + ": record has none of the keys 'text', 'prompt'/'completion', "
                + "'instruction'/'input'/'output' or 'input_ids'");
    }

    private static String text(JsonNode node, String key, String where, boolean required) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (required) throw new DoraException(where + ": missing key '" + key + "'");
            return "";
        }
        if (!v.isTextual()) throw new DoraException(where + ": key '" + key + "' must be a string");
        return v.asText();
    }

    private static int[] ints(JsonNode v, String where, String key) {
        if (!v.isArray()) throw new DoraException(where + ": key '" + key + "' must be an array of integers");
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = v.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                throw new DoraException(where + ": key '" + key + "' entry " + i + " is not an integer");
            }
            out[i] = e.asInt();
        }
        return out;
    }
}
