package dev.dora4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP routes, OpenAI's and vLLM's: models, completions, chat completions, embeddings, run-time adapter
 * loading, health and metrics. Every failure becomes a JSON error in OpenAI's shape; nothing a request does stops
 * the server.
 */
final class ApiHandler extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);

    private final ServeOptions options;
    private final ServedModels models;
    private final CompletionsEndpoint completions;
    private final EncoderService encoder;
    private final ServeMetrics metrics;
    private final long created = System.currentTimeMillis() / 1000;

    ApiHandler(ServeOptions options, ServedModels models, CompletionsEndpoint completions, EncoderService encoder, ServeMetrics metrics) {
        this.options = options;
        this.models = models;
        this.completions = completions;
        this.encoder = encoder;
        this.metrics = metrics;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Exchange ex = new Exchange(request, response, callback);
        String path = Request.getPathInContext(request), method = request.getMethod();
        try {
            route(ex, method, path);
        } catch (ApiError e) {
            if (!ex.answered()) ex.error(e);
        } catch (DoraException | IllegalArgumentException e) {
            if (!ex.answered()) ex.error(ApiError.invalid(null, e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!ex.answered()) ex.error(new ApiError(503, "server_error", null, null, "the server is stopping"));
        } catch (RuntimeException | Error e) {
            LOG.warn("{} {} failed", method, path, e);
            if (!ex.answered()) ex.error(new ApiError(500, "server_error", null, null, "internal error: " + e));
        }
        if (!ex.answered()) ex.error(new ApiError(500, "server_error", null, null, "no response"));
        metrics.request(path.startsWith("/v1/") ? path : "other", ex.status);
        return true;
    }

    private void route(Exchange ex, String method, String path) throws InterruptedException {
        switch (path) {
            case "/health" -> {
                ex.reply(200, "text/plain", "ok");
                return;
            }
            case "/metrics" -> {
                ex.reply(200, "text/plain; version=0.0.4", metrics.scrape());
                return;
            }
            default -> { }
        }
        if (!path.startsWith("/v1/")) throw ApiError.notFound("no route " + method + " " + path);
        authorize(ex);
        switch (method + " " + path) {
            case "GET /v1/models" -> ex.reply(200, modelList());
            case "POST /v1/completions" -> requireLm().completions(ex);
            case "POST /v1/chat/completions" -> requireLm().chat(ex);
            case "POST /v1/embeddings" -> embeddings(ex);
            case "POST /v1/load_lora_adapter" -> loadAdapter(ex);
            case "POST /v1/unload_lora_adapter" -> unloadAdapter(ex);
            default -> throw ApiError.notFound("no route " + method + " " + path);
        }
    }

    private void authorize(Exchange ex) {
        if (options.apiKey() == null) return;
        String given = ex.request.getHeaders().get(HttpHeader.AUTHORIZATION);
        byte[] want = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (given == null || !MessageDigest.isEqual(want, given.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key",
                    "Incorrect or missing API key: send it as 'Authorization: Bearer <key>'");
        }
    }

    private CompletionsEndpoint requireLm() {
        if (completions == null) throw ApiError.invalid("model", "the served model '" + models.baseName() + "' is an encoder; use /v1/embeddings");
        return completions;
    }

    private ObjectNode modelList() {
        ObjectNode root = Exchange.JSON.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        data.addObject().put("id", models.baseName()).put("object", "model").put("created", created).put("owned_by", "dora4j")
                .put("root", options.model().toString()).putNull("parent");
        for (var e : models.adapterDirs().entrySet()) {
            data.addObject().put("id", e.getKey()).put("object", "model").put("created", created).put("owned_by", "dora4j")
                    .put("root", e.getValue().toString()).put("parent", models.baseName());
        }
        return root;
    }

    private void embeddings(Exchange ex) throws InterruptedException {
        if (encoder == null) throw ApiError.invalid("model", "the served model '" + models.baseName() + "' is not an encoder; embeddings need a BERT-family model");
        ObjectNode body = ex.jsonBody();
        JsonNode m = body.get("model");
        if (m == null || !m.isTextual()) throw ApiError.invalid("model", "model must be a string naming the base model or an adapter");
        String adapter = m.asText().equals(models.baseName()) ? null : m.asText();
        if (adapter != null) models.adapter(adapter);
        List<String> texts = new ArrayList<>();
        JsonNode input = body.get("input");
        if (input != null && input.isTextual()) texts.add(input.asText());
        else if (input != null && input.isArray() && !input.isEmpty()) for (JsonNode t : input) {
            if (!t.isTextual()) throw ApiError.invalid("input", "input must be a string or a list of strings");
            texts.add(t.asText());
        }
        else throw ApiError.invalid("input", "input must be a non-empty string or list of strings");
        String format = body.path("encoding_format").asText("float");
        if (!format.equals("float") && !format.equals("base64")) throw ApiError.invalid("encoding_format", "encoding_format must be float or base64");
        float[][] vectors = encoder.embed(texts, adapter, options.engine().requestTimeout().toMillis());
        ObjectNode root = Exchange.JSON.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        int tokens = 0;
        for (int i = 0; i < vectors.length; i++) {
            ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
            if (format.equals("base64")) {
                ByteBuffer buf = ByteBuffer.allocate(vectors[i].length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : vectors[i]) buf.putFloat(v);
                item.put("embedding", Base64.getEncoder().encodeToString(buf.array()));
            } else {
                ArrayNode vec = item.putArray("embedding");
                for (float v : vectors[i]) vec.add(v);
            }
            tokens += encoder.tokens(texts.get(i));
        }
        root.put("model", m.asText());
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        ex.reply(200, root);
    }

    private void loadAdapter(Exchange ex) {
        if (!options.allowAdapterLoading()) throw ApiError.notFound("adapter loading is disabled; start the server with --allow-adapter-loading");
        ObjectNode body = ex.jsonBody();
        String name = text(body, "lora_name"), dir = text(body, "lora_path");
        models.load(name, Path.of(dir));
        ex.reply(200, "text/plain", "Success: LoRA adapter '" + name + "' added successfully.");
    }

    private void unloadAdapter(Exchange ex) {
        if (!options.allowAdapterLoading()) throw ApiError.notFound("adapter loading is disabled; start the server with --allow-adapter-loading");
        String name = text(ex.jsonBody(), "lora_name");
        models.unload(name);
        ex.reply(200, "text/plain", "Success: LoRA adapter '" + name + "' removed successfully.");
    }

    private static String text(ObjectNode body, String key) {
        JsonNode n = body.get(key);
        if (n == null || !n.isTextual() || n.asText().isBlank()) throw ApiError.invalid(key, key + " must be a non-empty string");
        return n.asText();
    }
}
