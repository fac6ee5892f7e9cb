package dev.dora4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.generate.Sampler;
import dev.dora4j.tokenizer.Tokenizer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * {@code POST /v1/completions} and {@code POST /v1/chat/completions}: the request becomes a {@link Sequence} in
 * the engine; its tokens come back as one JSON response or as server-sent events.
 */
final class CompletionsEndpoint {
    /** The most tokens a chat request without max_tokens generates (its KV cache is reserved up front). */
    static final int DEFAULT_CHAT_TOKENS = 4096;
    private final Engine engine;
    private final Tokenizer tokenizer;
    private final ServedModels models;
    private final ChatTemplate chatTemplate;

    CompletionsEndpoint(Engine engine, Tokenizer tokenizer, ServedModels models, ChatTemplate chatTemplate) {
        this.engine = engine;
        this.tokenizer = tokenizer;
        this.models = models;
        this.chatTemplate = chatTemplate;
    }

    void completions(Exchange ex) throws InterruptedException {
        ObjectNode body = ex.jsonBody();
        String model = modelName(body);
        ServedAdapter adapter = models.adapter(model);
        int[] prompt = completionPrompt(body.get("prompt"));
        run(ex, false, model, adapter, prompt, GenerationParams.parse(body, 16));
    }

    void chat(Exchange ex) throws InterruptedException {
        ObjectNode body = ex.jsonBody();
        String model = modelName(body);
        ServedAdapter adapter = models.adapter(model);
        if (chatTemplate == null) {
            throw ApiError.invalid("messages", "the model '" + models.baseName() + "' has no chat_template in "
                    + ChatTemplate.CONFIG_FILE + "; use /v1/completions with a prompt");
        }
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) throw ApiError.invalid("messages", "messages must be a non-empty list");
        List<Map<String, Object>> list = new ArrayList<>();
        for (JsonNode m : messages) {
            if (!m.path("role").isTextual()) throw ApiError.invalid("messages", "every message needs a string 'role'");
            list.add(Map.of("role", m.get("role").asText(), "content", content(m.get("content"))));
        }
        int[] prompt = tokenizer.encode(chatTemplate.render(list), false, false);
        if (prompt.length == 0) throw ApiError.invalid("messages", "the rendered chat prompt has no tokens");
        run(ex, true, model, adapter, prompt, GenerationParams.parse(body, -1));
    }

    private static String modelName(ObjectNode body) {
        JsonNode m = body.get("model");
        if (m == null || !m.isTextual()) throw ApiError.invalid("model", "model must be a string naming the base model or an adapter");
        return m.asText();
    }

    // a string, or a list of content parts of type "text"
    private static String content(JsonNode c) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.asText();
        if (c.isArray()) {
            StringBuilder s = new StringBuilder();
            for (JsonNode part : c) {
                if (!"text".equals(part.path("type").asText())) throw ApiError.invalid("messages", "only text content parts are supported");
                s.append(part.path("text").asText());
            }
            return s.toString();
        }
        throw ApiError.invalid("messages", "message content must be a string or a list of text parts");
    }

    // a string (encoded with BOS, as generate encodes its prompt), a list of one string, or a list of token ids
    private int[] completionPrompt(JsonNode p) {
        if (p != null && p.isArray() && p.size() == 1 && p.get(0).isTextual()) p = p.get(0);
        if (p != null && p.isTextual()) {
            return p.asText().isEmpty() ? new int[] {tokenizer.bosId()} : tokenizer.encode(p.asText(), true, false);
        }
        if (p != null && p.isArray() && !p.isEmpty()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || t.asInt() < 0 || t.asInt() >= engine.model().vocabSize()) {
                    throw ApiError.invalid("prompt", "prompt token " + i + " is not an id in [0, " + engine.model().vocabSize() + ")");
                }
                ids[i] = t.asInt();
            }
            return ids;
        }
        throw ApiError.invalid("prompt", "prompt must be a string, a list of one string, or a list of token ids");
    }

    private void run(Exchange ex, boolean chat, String model, ServedAdapter adapter, int[] prompt, GenerationParams p)
            throws InterruptedException {
        int context = engine.model().contextLength();
        if (prompt.length >= context) {
            throw ApiError.invalid(chat ? "messages" : "prompt", "This model's maximum context length is "
                    + context + " tokens; the prompt has " + prompt.length + " tokens, which leaves none to generate");
        }
        // without max_tokens a chat may run to the end of the context, up to DEFAULT_CHAT_TOKENS
        int maxTokens = p.maxTokens() < 0 ? Math.min(context - prompt.length, DEFAULT_CHAT_TOKENS) : p.maxTokens();
        if (prompt.length + maxTokens > context) {
            throw ApiError.invalid("max_tokens", "This model's maximum context length is " + context + " tokens. However, you requested "
                    + (prompt.length + maxTokens) + " tokens (" + prompt.length + " in the prompt, " + maxTokens
                    + " in the completion). Please reduce the prompt or max_tokens.");
        }
        int capacity = prompt.length + maxTokens;
        long bytes = engine.cacheBytes(capacity);
        if (bytes > engine.settings().kvCacheBytes()) {
            throw ApiError.invalid("max_tokens", "the request needs " + (bytes >> 20) + " MB of KV cache, more than the server's bound of "
                    + (engine.settings().kvCacheBytes() >> 20) + " MB; reduce the prompt or max_tokens");
        }
        long timeout = engine.settings().requestTimeout().toNanos();
        Sequence s = new Sequence(prompt, adapter, maxTokens, capacity, new Sampler(p.temperature(), p.topP(), p.seed()), p.stop(),
                System.nanoTime() + timeout, tokenizer);
        try {
            engine.submit(s);
        } catch (Engine.QueueFull e) {
            ex.header("Retry-After", "1");
            throw new ApiError(429, "rate_limit_exceeded", null, "queue_full", e.getMessage());
        }
        ex.request.addFailureListener(t -> s.cancel("client disconnected"));
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        long created = System.currentTimeMillis() / 1000;
        if (p.stream()) stream(ex, s, chat, id, created, model, p);
        else whole(ex, s, chat, id, created, model, p);
    }

    private static SequenceEvent next(Sequence s) throws InterruptedException {
        long left = s.deadlineNanos - System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        SequenceEvent e = s.events.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
        if (e == null) {
            s.cancel("timeout");
            return new SequenceEvent.Failed(504, "timeout", "the request did not finish within the server's request timeout");
        }
        return e;
    }

    private void whole(Exchange ex, Sequence s, boolean chat, String id, long created, String model, GenerationParams p)
            throws InterruptedException {
        while (true) {
            SequenceEvent e;
            try {
                e = next(s);
            } catch (InterruptedException interrupted) {
                s.cancel("interrupted");
                throw interrupted;
            }
            if (e instanceof SequenceEvent.Failed f) throw new ApiError(f.status(), f.type(), null, null, f.message());
            if (e instanceof SequenceEvent.Done d) {
                ObjectNode root = head(chat ? "chat.completion" : "text_completion", id, created, model);
                ObjectNode choice = root.putArray("choices").addObject();
                choice.put("index", 0);
                String text = s.finalText();
                if (chat) choice.putObject("message").put("role", "assistant").put("content", text);
                else choice.put("text", text);
                choice.putNull("logprobs");
                choice.put("finish_reason", d.finishReason());
                if (p.returnTokenIds()) {
                    ArrayNode ids = choice.putArray("token_ids");
                    for (int t : s.generated) ids.add(t);
                }
                usage(root, d);
                ex.reply(200, root);
                return;
            }
        }
    }

    private void stream(Exchange ex, Sequence s, boolean chat, String id, long created, String model, GenerationParams p)
            throws InterruptedException {
        SseStream out = ex.startStream();
        try {
            if (chat) out.send(chunk(chat, id, created, model, null, null, true).toString());
            while (true) {
                SequenceEvent e = next(s);
                if (e instanceof SequenceEvent.Delta d) {
                    if (!d.text().isEmpty()) out.send(chunk(chat, id, created, model, d.text(), null, false).toString());
                } else if (e instanceof SequenceEvent.Done d) {
                    out.send(chunk(chat, id, created, model, chat ? null : "", d.finishReason(), false).toString());
                    if (p.includeUsage()) {
                        ObjectNode u = head(chat ? "chat.completion.chunk" : "text_completion", id, created, model);
                        u.putArray("choices");
                        usage(u, d);
                        out.send(u.toString());
                    }
                    out.done();
                    break;
                } else if (e instanceof SequenceEvent.Failed f) {
                    ObjectNode err = Exchange.JSON.createObjectNode();
                    err.putObject("error").put("message", f.message()).put("type", f.type()).put("code", f.status());
                    out.send(err.toString());
                    out.done();
                    break;
                }
            }
            ex.endStream();
        } catch (IOException gone) {
            s.cancel("client disconnected");
            ex.abort(gone);
        } catch (InterruptedException interrupted) {
            s.cancel("interrupted");
            ex.abort(interrupted);
            throw interrupted;
        }
    }

    private static ObjectNode chunk(boolean chat, String id, long created, String model, String text, String finish, boolean role) {
        ObjectNode root = head(chat ? "chat.completion.chunk" : "text_completion", id, created, model);
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (chat) {
            ObjectNode delta = choice.putObject("delta");
            if (role) delta.put("role", "assistant").put("content", "");
            if (text != null) delta.put("content", text);
        } else {
            choice.put("text", text == null ? "" : text);
        }
        choice.putNull("logprobs");
        if (finish == null) choice.putNull("finish_reason");
        else choice.put("finish_reason", finish);
        return root;
    }

    private static ObjectNode head(String object, String id, long created, String model) {
        ObjectNode root = Exchange.JSON.createObjectNode();
        root.put("id", id).put("object", object).put("created", created).put("model", model);
        return root;
    }

    private static void usage(ObjectNode root, SequenceEvent.Done d) {
        root.putObject("usage").put("prompt_tokens", d.promptTokens()).put("completion_tokens", d.completionTokens())
                .put("total_tokens", d.promptTokens() + d.completionTokens());
    }
}
