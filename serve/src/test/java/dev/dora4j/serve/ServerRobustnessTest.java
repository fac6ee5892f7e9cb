package dev.dora4j.serve;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Bad requests get OpenAI-shaped errors, load gets clean 429s, gone clients free their sequence, stopping is graceful. */
class ServerRobustnessTest {
    static final EngineSettings SMALL = new EngineSettings(64, 4, 8, 64L << 20, Duration.ofMinutes(1));

    static String completion(String model, int maxTokens, boolean stream) {
        return TestServer.JSON.createObjectNode().put("model", model).put("prompt", "Once upon a time")
                .put("max_tokens", maxTokens).put("temperature", 0).put("stream", stream).toString();
    }

    static void assertError(HttpResponse<String> r, int status, String type, String param) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode e = TestServer.json(r).get("error");
        assertThat(e).as(r.body()).isNotNull();
        assertThat(e.get("message").asText()).isNotBlank();
        assertThat(e.get("type").asText()).isEqualTo(type);
        if (param != null) assertThat(e.get("param").asText()).isEqualTo(param);
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        try (DoraServer s = TestServer.start(SMALL, null, false)) {
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": "), 400, "invalid_request_error", null);
            assertError(TestServer.post(s, "/v1/completions", "[1, 2]"), 400, "invalid_request_error", null);
            assertError(TestServer.post(s, "/v1/completions", completion("nope", 4, false)), 404, "invalid_request_error", "model");
            assertThat(TestServer.json(TestServer.post(s, "/v1/completions", completion("nope", 4, false))).at("/error/code").asText())
                    .isEqualTo("model_not_found");
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"a\", \"temperature\": -1}"), 400,
                    "invalid_request_error", "temperature");
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"a\", \"top_p\": 0}"), 400,
                    "invalid_request_error", "top_p");
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"a\", \"n\": 2}"), 400,
                    "invalid_request_error", "n");
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"a\", \"max_tokens\": 0}"), 400,
                    "invalid_request_error", "max_tokens");
            String longPrompt = "the cat sat on the mat and ".repeat(100);
            assertError(TestServer.post(s, "/v1/completions", "{\"model\": \"stories\", \"prompt\": \"" + longPrompt + "\"}"), 400,
                    "invalid_request_error", "prompt");
            assertError(TestServer.post(s, "/v1/completions", completion("stories", 600, false)), 400, "invalid_request_error", "max_tokens");
            assertError(TestServer.post(s, "/v1/chat/completions", "{\"model\": \"stories\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"),
                    400, "invalid_request_error", "messages");
            assertError(TestServer.post(s, "/v1/embeddings", "{\"model\": \"stories\", \"input\": \"hi\"}"), 400, "invalid_request_error", "model");
            assertError(TestServer.post(s, "/v1/load_lora_adapter", "{\"lora_name\": \"a\", \"lora_path\": \"/nowhere\"}"), 404,
                    "invalid_request_error", null);
            assertError(TestServer.get(s, "/v1/nothing"), 404, "invalid_request_error", null);
            HttpResponse<String> ok = TestServer.post(s, "/v1/completions", completion("stories", 8, false));
            assertThat(ok.statusCode()).isEqualTo(200);
            JsonNode body = TestServer.json(ok);
            assertThat(body.at("/usage/completion_tokens").asInt()).isEqualTo(8);
            assertThat(body.at("/usage/total_tokens").asInt()).isEqualTo(body.at("/usage/prompt_tokens").asInt() + 8);
            assertThat(body.at("/choices/0/finish_reason").asText()).isEqualTo("length");
            assertThat(TestServer.get(s, "/health").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aRequestAnsweredBeforeItsBodyArrivesLeavesTheConnectionUsable() throws Exception {
        // the body comes after the server could already answer the request (no such route, loading disabled, a route
        // that takes no body); the server must still read it, so that the next request on the connection is answered
        try (DoraServer s = TestServer.start(SMALL, null, false);
             java.net.Socket socket = new java.net.Socket("127.0.0.1", s.port())) {
            socket.setSoTimeout(30_000);
            var out = socket.getOutputStream();
            var in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            // two refused, one answered without reading its body
            for (String path : new String[] {"/v1/load_lora_adapter", "/v1/nothing", "/health"}) {
                String body = "{\"lora_name\": \"a\", \"lora_path\": \"/nowhere\"}";
                out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length() + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                Thread.sleep(300);
                out.write(body.getBytes(StandardCharsets.UTF_8));
                out.flush();
                assertThat(readResponse(in)).as(path).startsWith(path.equals("/health") ? "HTTP/1.1 200" : "HTTP/1.1 404")
                        .doesNotContainIgnoringCase("connection: close");
            }
            out.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            assertThat(readResponse(in)).startsWith("HTTP/1.1 200");
        }
    }

    // the status line and headers of one response, its body read by Content-Length and dropped
    private static String readResponse(BufferedReader in) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        int length = 0;
        for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
            head.append(line).append('\n');
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) length = Integer.parseInt(line.substring(15).trim());
        }
        for (int i = 0; i < length; i++) {
            if (in.read() < 0) break;
        }
        return head.toString();
    }

    @Test
    void theApiKeyIsEnforcedOnV1Routes() throws Exception {
        try (DoraServer s = TestServer.start(SMALL, "sekrit", false)) {
            assertError(TestServer.get(s, "/v1/models"), 401, "invalid_request_error", null);
            assertError(TestServer.get(s, "/v1/models", "Authorization", "Bearer wrong"), 401, "invalid_request_error", null);
            HttpResponse<String> ok = TestServer.get(s, "/v1/models", "Authorization", "Bearer sekrit");
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(TestServer.json(ok).at("/data/0/id").asText()).isEqualTo("stories");
            assertThat(TestServer.get(s, "/health").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        EngineSettings one = new EngineSettings(64, 1, 1, 64L << 20, Duration.ofMinutes(1));
        try (DoraServer s = TestServer.start(one, null, false)) {
            // the first request runs (its first event has arrived), the second waits, the third finds the queue full
            HttpResponse<InputStream> running = TestServer.postStream(s, "/v1/completions", completion("stories", 400, true));
            BufferedReader lines = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8));
            assertThat(lines.readLine()).startsWith("data: ");
            CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return TestServer.post(s, "/v1/completions", completion("stories", 4, false));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (TestServer.gauge(s, "dora4j_requests_waiting") < 1 && System.nanoTime() < end) Thread.sleep(10);
            HttpResponse<String> refused = TestServer.post(s, "/v1/completions", completion("stories", 4, false));
            assertError(refused, 429, "rate_limit_exceeded", null);
            assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
            running.body().close();
            assertThat(waiting.get().statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aClientThatDisconnectsFreesItsSequence() throws Exception {
        try (DoraServer s = TestServer.start(SMALL, null, false)) {
            HttpResponse<InputStream> r = TestServer.postStream(s, "/v1/completions", completion("stories", 500, true));
            BufferedReader lines = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
            assertThat(lines.readLine()).startsWith("data: ");
            assertThat(TestServer.gauge(s, "dora4j_requests_running")).isEqualTo(1.0);
            r.body().close();
            long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (TestServer.gauge(s, "dora4j_requests_running") > 0 && System.nanoTime() < end) Thread.sleep(10);
            assertThat(TestServer.gauge(s, "dora4j_requests_running")).isZero();
        }
    }

    @Test
    void aRequestOverItsTimeoutGets504() throws Exception {
        EngineSettings quick = new EngineSettings(64, 4, 8, 64L << 20, Duration.ofMillis(50));
        try (DoraServer s = TestServer.start(quick, null, false)) {
            assertError(TestServer.post(s, "/v1/completions", completion("stories", 500, false)), 504, "timeout", null);
            assertThat(TestServer.gauge(s, "dora4j_requests_running")).isZero();
        }
    }

    @Test
    void stoppingFinishesTheRunningRequest() throws Exception {
        DoraServer s = TestServer.start(SMALL, null, false);
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> {
            try {
                return TestServer.post(s, "/v1/completions", completion("stories", 200, false));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (TestServer.gauge(s, "dora4j_requests_running") < 1 && System.nanoTime() < end) Thread.sleep(5);
        s.stop(60_000);
        HttpResponse<String> r = running.get();
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(TestServer.json(r).at("/usage/completion_tokens").asInt()).isEqualTo(200);
    }
}
