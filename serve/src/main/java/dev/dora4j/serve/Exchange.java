package dev.dora4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** One HTTP request and its response: the JSON body in, a JSON reply or a stream of server-sent events out. */
final class Exchange {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_BODY_BYTES = 16L << 20;

    final Request request;
    private final Response response;
    private final Callback callback;
    private boolean answered;
    private boolean bodyRead;
    int status;

    Exchange(Request request, Response response, Callback callback) {
        this.request = request;
        this.response = response;
        this.callback = callback;
    }

    /** The request body as a JSON object; malformed JSON or another kind of value is a 400. */
    ObjectNode jsonBody() {
        long length = request.getLength();
        if (length > MAX_BODY_BYTES) throw ApiError.invalid(null, "the request body of " + length + " bytes is over the limit of " + MAX_BODY_BYTES);
        bodyRead = true;
        String text;
        try {
            text = Content.Source.asString(request, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw ApiError.invalid(null, "cannot read the request body: " + e.getMessage());
        }
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiError.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) throw ApiError.invalid(null, "the request body must be a JSON object");
        return (ObjectNode) node;
    }

    boolean answered() {
        return answered;
    }

    void reply(int status, Object body) {
        String text;
        try {
            text = body instanceof String s ? s : JSON.writeValueAsString(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        reply(status, "application/json", text);
    }

    void reply(int status, String contentType, String text) {
        if (!bodyRead) dropBody();
        answered = true;
        this.status = status;
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType + "; charset=utf-8");
        Content.Sink.write(response, true, text, callback);
    }

    void header(String name, String value) {
        response.getHeaders().put(name, value);
    }

    void error(ApiError e) {
        ObjectNode root = JSON.createObjectNode(), err = root.putObject("error");
        err.put("message", e.getMessage());
        err.put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        reply(e.status, root);
    }

    // Reads and drops a body no handler read (a request answered before its body mattered, such as one refused), so
    // that the connection stays usable: Jetty closes a connection whose request body is still unread once the answer
    // is sent, without saying so, and a client that sends its next request on it gets no answer. A body over the
    // limit is not read: the answer then closes the connection and says so.
    private void dropBody() {
        bodyRead = true;
        if (request.getLength() > MAX_BODY_BYTES) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            return;
        }
        try {
            Content.Source.consumeAll(request);
        } catch (IOException e) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
    }

    /** Starts a 200 event stream; the caller sends events and then calls {@link #endStream}. */
    SseStream startStream() {
        if (!bodyRead) dropBody();
        answered = true;
        status = 200;
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        stream = Content.Sink.asOutputStream(response);
        return new SseStream(stream);
    }

    private OutputStream stream;

    void endStream() {
        try {
            stream.close();
            callback.succeeded();
        } catch (IOException e) {
            callback.failed(e);
        }
    }

    /** Ends an exchange whose client has gone. */
    void abort(Throwable cause) {
        answered = true;
        callback.failed(cause);
    }
}
