package dev.dora4j.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * What {@link HfTokenizer} needs beyond the native tokenizer: the vocabulary size and the special ids,
 * read from {@code tokenizer.json} and, where it sits beside it, {@code tokenizer_config.json}
 * ({@code bos_token}, {@code eos_token}, {@code add_bos_token}, {@code clean_up_tokenization_spaces};
 * BERT's {@code cls_token} and {@code sep_token} stand in for BOS and EOS). Without a config, BOS and
 * EOS are the special tokens that the post-processor puts before and after a single sequence.
 */
record HfTokenizerSettings(int vocabSize, int bosId, int eosId, boolean addBos, boolean cleanUpSpaces) {
    static final String CONFIG_FILE = "tokenizer_config.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    static HfTokenizerSettings read(Path tokenizerJson, String tokenizerText) {
        JsonNode root = parse(tokenizerJson, tokenizerText);
        Map<String, Integer> ids = tokenIds(tokenizerJson, root);
        int vocabSize = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        if (vocabSize == 0) {
            throw new DoraException(tokenizerJson + ": model.vocab and added_tokens are both empty");
        }
        Path parent = tokenizerJson.toAbsolutePath().getParent();
        Path configFile = parent == null ? null : parent.resolve(CONFIG_FILE);
        JsonNode config = configFile != null && Files.isRegularFile(configFile)
                ? parse(configFile, readString(configFile))
                : JSON.createObjectNode();
        JsonNode processor = root.path("post_processor");
        int bos = specialId(configFile, config, ids, "bos_token", "cls_token");
        if (bos < 0) {
            bos = templateEnd(processor, true);
        }
        int eos = specialId(configFile, config, ids, "eos_token", "sep_token");
        if (eos < 0) {
            eos = templateEnd(processor, false);
        }
        JsonNode addBos = config.path("add_bos_token");
        boolean bosByDefault = addBos.isBoolean() ? addBos.booleanValue() : templateEnd(processor, true) >= 0;
        boolean cleanUp = config.path("clean_up_tokenization_spaces").asBoolean(false);
        return new HfTokenizerSettings(vocabSize, bos, eos, bosByDefault && bos >= 0, cleanUp);
    }

    /**
     * The {@code truncation.max_length} of a {@code tokenizer.json} (the longest sequence the tokenizer
     * produces, special tokens included), or -1 when it sets no truncation.
     */
    static int truncationMaxLength(Path tokenizerJson, String tokenizerText) {
        JsonNode maxLength = parse(tokenizerJson, tokenizerText).path("truncation").path("max_length");
        return maxLength.canConvertToInt() && maxLength.asInt() > 0 ? maxLength.asInt() : -1;
    }

    static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static JsonNode parse(Path file, String text) {
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) {
                throw new DoraException(file + ": expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            String message = e.getOriginalMessage() == null ? "" : e.getOriginalMessage().strip()
                    .replaceAll("\\s*[\\r\\n]+\\s*", " ");
            String line = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
            throw new DoraException(file + ": not valid JSON: " + message + line, e);
        }
    }

    /** Every token string with its id: the model's vocabulary, then the added tokens over it. */
    private static Map<String, Integer> tokenIds(Path file, JsonNode root) {
        Map<String, Integer> ids = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> entry : vocab.properties()) {
                ids.put(entry.getKey(), tokenId(file, "model.vocab." + entry.getKey(), entry.getValue()));
            }
        } else if (vocab.isArray()) {
            for (int i = 0; i < vocab.size(); i++) {
                JsonNode piece = vocab.get(i).path(0);
                if (!piece.isTextual()) {
                    throw new DoraException(file + ": model.vocab[" + i + "] is not a [piece, score] pair");
                }
                ids.putIfAbsent(piece.textValue(), i);
            }
        } else if (!vocab.isMissingNode()) {
            throw new DoraException(file + ": model.vocab is neither an object nor an array");
        }
        JsonNode added = root.path("added_tokens");
        for (int i = 0; i < added.size(); i++) {
            JsonNode token = added.get(i);
            String where = "added_tokens[" + i + "]";
            if (!token.path("content").isTextual()) {
                throw new DoraException(file + ": " + where + ".content is missing");
            }
            ids.put(token.path("content").textValue(), tokenId(file, where + ".id", token.path("id")));
        }
        return ids;
    }

    private static int tokenId(Path file, String key, JsonNode id) {
        if (!id.canConvertToInt() || !id.isIntegralNumber() || id.intValue() < 0) {
            throw new DoraException(file + ": " + key + " is not a token id: " + id);
        }
        return id.intValue();
    }

    /** The id of the config's {@code key} token (or of {@code fallbackKey}'s), -1 if it names none. */
    private static int specialId(Path configFile, JsonNode config, Map<String, Integer> ids, String key,
            String fallbackKey) {
        String usedKey = key;
        String content = tokenContent(config.path(key));
        if (content == null) {
            usedKey = fallbackKey;
            content = tokenContent(config.path(fallbackKey));
        }
        if (content == null) {
            return -1;
        }
        Integer id = ids.get(content);
        if (id == null) {
            throw new DoraException(configFile + ": " + usedKey + " \"" + content
                    + "\" is not a token of the tokenizer.json beside it");
        }
        return id;
    }

    /** A token as tokenizer_config.json writes it: a string, or an object with "content". */
    private static String tokenContent(JsonNode node) {
        if (node.isTextual()) {
            return node.textValue();
        }
        JsonNode content = node.path("content");
        return content.isTextual() ? content.textValue() : null;
    }

    /**
     * The id of the special token that the post-processor puts at the start ({@code first}) or the end
     * of a single sequence, or -1.
     */
    private static int templateEnd(JsonNode processor, boolean first) {
        String type = processor.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                for (JsonNode inner : processor.path("processors")) {
                    int id = templateEnd(inner, first);
                    if (id >= 0) {
                        return id;
                    }
                }
                return -1;
            }
            case "BertProcessing", "RobertaProcessing" -> {
                JsonNode pair = processor.path(first ? "cls" : "sep");
                return pair.path(1).canConvertToInt() ? pair.path(1).intValue() : -1;
            }
            case "TemplateProcessing" -> {
                JsonNode single = processor.path("single");
                if (single.isEmpty()) {
                    return -1;
                }
                JsonNode end = single.get(first ? 0 : single.size() - 1).path("SpecialToken");
                JsonNode special = processor.path("special_tokens").path(end.path("id").asText(""));
                JsonNode specialIds = special.path("ids");
                boolean oneId = specialIds.size() == 1 && specialIds.get(0).canConvertToInt();
                return oneId ? specialIds.get(0).intValue() : -1;
            }
            default -> {
                return -1;
            }
        }
    }
}
