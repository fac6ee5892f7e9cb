package dev.dora4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The sampling and stopping fields of a completion or chat request, checked as OpenAI checks them:
 * {@code max_tokens} (or {@code max_completion_tokens}) >= 1, {@code temperature} in [0, 2], {@code top_p} in (0, 1],
 * {@code n} = 1, up to 4 {@code stop} strings. {@code maxTokens} is -1 when the request leaves it to the context.
 */
record GenerationParams(int maxTokens, float temperature, float topP, long seed, List<String> stop, boolean stream,
        boolean includeUsage, boolean returnTokenIds) {

    static GenerationParams parse(ObjectNode body, int defaultMaxTokens) {
        int maxTokens = defaultMaxTokens;
        for (String key : List.of("max_tokens", "max_completion_tokens")) {
            JsonNode n = body.get(key);
            if (n == null || n.isNull()) continue;
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1) throw ApiError.invalid(key, key + " must be an integer >= 1");
            maxTokens = n.asInt();
        }
        float temperature = number(body, "temperature", 1f, 0f, 2f);
        float topP = number(body, "top_p", 1f, Float.MIN_VALUE, 1f);
        JsonNode n = body.get("n");
        if (n != null && !n.isNull() && (!n.isIntegralNumber() || n.asInt() != 1)) throw ApiError.invalid("n", "only n = 1 is supported");
        JsonNode seedNode = body.get("seed");
        long seed;
        if (seedNode == null || seedNode.isNull()) seed = ThreadLocalRandom.current().nextLong();
        else if (seedNode.isIntegralNumber() && seedNode.canConvertToLong()) seed = seedNode.asLong();
        else throw ApiError.invalid("seed", "seed must be an integer");
        List<String> stop = new ArrayList<>();
        JsonNode s = body.get("stop");
        if (s != null && !s.isNull()) {
            if (s.isTextual()) stop.add(s.asText());
            else if (s.isArray() && s.size() <= 4) for (JsonNode e : s) {
                if (!e.isTextual() || e.asText().isEmpty()) throw ApiError.invalid("stop", "stop must be a non-empty string or a list of up to 4");
                stop.add(e.asText());
            }
            else throw ApiError.invalid("stop", "stop must be a string or a list of up to 4 strings");
            if (stop.contains("")) throw ApiError.invalid("stop", "stop strings must not be empty");
        }
        boolean stream = bool(body, "stream");
        boolean includeUsage = body.path("stream_options").path("include_usage").asBoolean(false);
        return new GenerationParams(maxTokens, temperature, topP, seed, stop, stream, includeUsage, bool(body, "return_token_ids"));
    }

    private static float number(ObjectNode body, String key, float fallback, float min, float max) {
        JsonNode n = body.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw ApiError.invalid(key, key + " must be a number");
        double v = n.asDouble();
        if (!(v >= min && v <= max)) throw ApiError.invalid(key, key + " must be in [" + (min == Float.MIN_VALUE ? "0 exclusive" : min) + ", " + max + "], got " + v);
        return (float) v;
    }

    private static boolean bool(ObjectNode body, String key) {
        JsonNode n = body.get(key);
        if (n == null || n.isNull()) return false;
        if (!n.isBoolean()) throw ApiError.invalid(key, key + " must be true or false");
        return n.asBoolean();
    }
}
