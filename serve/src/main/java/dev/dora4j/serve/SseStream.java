package dev.dora4j.serve;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Server-sent events on a response body: {@code data: <json>} blocks, flushed one by one, ending with {@code data: [DONE]}. */
final class SseStream {
    private final OutputStream out;

    SseStream(OutputStream out) {
        this.out = out;
    }

    /** Sends one event; an {@link IOException} means the client has gone. */
    void send(String data) throws IOException {
        out.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    void done() throws IOException {
        send("[DONE]");
    }
}
