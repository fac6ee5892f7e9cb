package dev.dora4j.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The driver's view of a gang's progress: follows the {@code metrics.jsonl} that rank 0 appends to and turns each new
 * step or evaluation into a line (at most one step line every two seconds, plus the last), on a daemon thread.
 */
final class MetricsTail implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long STEP_LINE_MILLIS = 2000;
    private final Path file;
    private final Consumer<String> progress;
    private final Thread thread;
    private volatile boolean running = true;
    private long offset;
    private long lastLine, shownStep;
    private String pending;

    MetricsTail(Path file, Consumer<String> progress) {
        this.file = file;
        this.progress = progress;
        this.thread = Thread.ofPlatform().daemon().name("dora4j-metrics-tail").start(this::follow);
    }

    private void follow() {
        while (running) {
            poll();
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void poll() {
        if (!Files.isRegularFile(file)) return;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            if (f.length() < offset) {
                // rank 0 of a relaunched gang cut the steps after its checkpoint
                progress.accept("the gang was relaunched; it resumes from the last checkpoint");
                offset = 0;
            }
            f.seek(offset);
            byte[] bytes = new byte[(int) (f.length() - offset)];
            f.readFully(bytes);
            String text = new String(bytes, StandardCharsets.UTF_8);
            int end = text.lastIndexOf('\n');
            if (end < 0) return;
            offset += text.substring(0, end + 1).getBytes(StandardCharsets.UTF_8).length;
            for (String line : text.substring(0, end).split("\n")) show(line);
        } catch (IOException e) {
            // the file is being replaced by a resuming rank 0; read it again next time
        }
    }

    private void show(String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (IOException torn) {
            return;
        }
        if (n.has("eval_loss")) {
            progress.accept(String.format(Locale.ROOT, "step %d  held-out loss %.4f", n.path("step").asLong(), n.path("eval_loss").asDouble()));
            return;
        }
        if (n.path("step").asLong() <= shownStep) return;
        shownStep = n.path("step").asLong();
        String text = String.format(Locale.ROOT, "step %d  epoch %d  loss %.4f  lr %.3g  grad-norm %.3f  %.0f tok/s",
                n.path("step").asLong(), n.path("epoch").asInt(), n.path("loss").asDouble(), n.path("lr").asDouble(),
                n.path("grad_norm").asDouble(), n.path("tokens_per_s").asDouble());
        long now = System.currentTimeMillis();
        if (now - lastLine >= STEP_LINE_MILLIS) {
            progress.accept(text);
            lastLine = now;
            pending = null;
        } else {
            pending = text;
        }
    }

    /** The step of the last line of {@code file}, or -1 without one. */
    static long lastStep(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            long step = -1;
            for (String l : lines) {
                if (!l.isBlank()) step = Math.max(step, JSON.readTree(l).path("step").asLong(-1));
            }
            return step;
        } catch (IOException e) {
            return -1;
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poll();
        if (pending != null) progress.accept(pending);
    }
}
