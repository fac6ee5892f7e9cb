package dev.dora4j.tokenizer;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metadata of a vocab-only GGUF file (llama.cpp's {@code ggml-vocab-*.gguf}), and from a GPT-2 one
 * the equivalent byte-level BPE {@code tokenizer.json}, so that llama.cpp's GPT-2 test vectors can run
 * through {@link HfTokenizer}.
 */
final class GgufVocab {
    private static final int STRING = 8;
    private static final int ARRAY = 9;

    private GgufVocab() {
    }

    static Map<String, Object> metadata(Path file) {
        ByteBuffer in;
        try {
            in = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (in.getInt() != 0x46554747) {
            throw new IllegalArgumentException(file + " is not GGUF");
        }
        in.getInt();
        in.getLong();
        long count = in.getLong();
        Map<String, Object> values = new LinkedHashMap<>();
        for (long i = 0; i < count; i++) {
            String key = string(in);
            values.put(key, value(in, in.getInt()));
        }
        return values;
    }

    private static String string(ByteBuffer in) {
        byte[] bytes = new byte[Math.toIntExact(in.getLong())];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer in, int type) {
        return switch (type) {
            case 0, 1 -> (long) in.get();
            case 2, 3 -> (long) in.getShort();
            case 4, 5 -> (long) in.getInt();
            case 6 -> (double) in.getFloat();
            case 7 -> in.get() != 0;
            case STRING -> string(in);
            case ARRAY -> {
                int elementType = in.getInt();
                long n = in.getLong();
                List<Object> list = new ArrayList<>(Math.toIntExact(n));
                for (long i = 0; i < n; i++) {
                    list.add(value(in, elementType));
                }
                yield list;
            }
            case 10, 11 -> in.getLong();
            case 12 -> in.getDouble();
            default -> throw new IllegalArgumentException("GGUF value type " + type);
        };
    }

    /** GPT-2's tokenizer.json: byte-level pre-tokenizer and decoder, BPE over the GGUF's tokens and merges. */
    @SuppressWarnings("unchecked")
    static String gpt2TokenizerJson(Path gguf) {
        Map<String, Object> meta = metadata(gguf);
        List<Object> tokens = (List<Object>) meta.get("tokenizer.ggml.tokens");
        List<Object> merges = (List<Object>) meta.get("tokenizer.ggml.merges");
        int eos = ((Long) meta.get("tokenizer.ggml.eos_token_id")).intValue();
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode root = json.createObjectNode();
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", eos).put("content", (String) tokens.get(eos)).put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(json, false));
        root.set("post_processor", byteLevel(json, true));
        root.set("decoder", byteLevel(json, true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < tokens.size(); id++) {
            vocab.put((String) tokens.get(id), id);
        }
        ArrayNode mergeList = model.putArray("merges");
        merges.forEach(m -> mergeList.add((String) m));
        return root.toString();
    }

    private static ObjectNode byteLevel(JsonMapper json, boolean addPrefixSpace) {
        return json.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", true).put("use_regex", true);
    }
}
