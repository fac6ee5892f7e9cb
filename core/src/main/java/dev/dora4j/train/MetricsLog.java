package dev.dora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.eval.ClassificationMetrics;
import dev.dora4j.eval.Evaluator;
import dev.dora4j.eval.Score;
import dev.dora4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code metrics.jsonl}: one JSON object per optimizer step ({@code step, epoch, loss, lr,
 * grad_norm, tokens, tokens_per_s, step_s}) and per held-out evaluation ({@code step,
 * eval_loss, eval_perplexity, eval_tokens}, or for a classifier {@code step, eval_loss,
 * eval_accuracy, eval_macro_f1, eval_examples}), appended and flushed as they happen.
 */
final class MetricsLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;

    MetricsLog(Path file) {
        this.file = file;
    }

    void step(Trainer.StepMetrics m) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", m.step());
        o.put("epoch", m.epoch());
        o.put("loss", m.loss());
        o.put("lr", m.lr());
        o.put("grad_norm", m.gradNorm());
        o.put("tokens", m.tokens());
        o.put("tokens_per_s", m.tokensPerSecond());
        o.put("step_s", m.seconds());
        append(o);
    }

    void eval(long step, Score score) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", step);
        o.put("eval_loss", score.loss());
        switch (score) {
            case Evaluator.Result r -> {
                o.put("eval_perplexity", r.perplexity());
                o.put("eval_tokens", r.tokens());
            }
            case ClassificationMetrics c -> {
                o.put("eval_accuracy", c.accuracy());
                o.put("eval_macro_f1", c.macroF1());
                o.put("eval_examples", c.examples());
            }
        }
        append(o);
    }

    /** Drops the lines of steps after {@code step} (left by a run that was killed after its last checkpoint). */
    void truncateAfter(long step) {
        if (!Files.exists(file)) return;
        try {
            List<String> keep = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException torn) {
                    continue;
                }
                if (n.path("step").asLong(Long.MAX_VALUE) <= step) keep.add(line);
            }
            AtomicFiles.writeString(file, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
        } catch (IOException e) {
            throw new DoraException(file + ": cannot rewrite metrics: " + e.getMessage(), e);
        }
    }

    private void append(ObjectNode o) {
        try {
            Files.writeString(file, o + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot append metrics: " + e.getMessage(), e);
        }
    }
}
