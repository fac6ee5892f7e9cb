package dev.dora4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A run's losses from its {@code metrics.jsonl}: the training loss of every logged step and the held-out
 * loss of every evaluation. Lines that do not parse (the torn last line of a killed run) are skipped.
 *
 * @param train [step, loss] pairs in file order
 * @param eval  [step, eval_loss] pairs in file order
 */
public record LossHistory(List<double[]> train, List<double[]> eval) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static LossHistory read(Path runDir) {
        Path file = runDir.resolve(TrainingRun.METRICS_FILE);
        List<double[]> train = new ArrayList<>(), eval = new ArrayList<>();
        if (!Files.isRegularFile(file)) return new LossHistory(train, eval);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read: " + e.getMessage(), e);
        }
        for (String line : lines) {
            if (line.isBlank()) continue;
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (IOException torn) {
                continue;
            }
            if (n == null || !n.path("step").isNumber()) continue;
            double step = n.get("step").asDouble();
            if (n.path("loss").isNumber()) train.add(new double[] {step, n.get("loss").asDouble()});
            if (n.path("eval_loss").isNumber()) eval.add(new double[] {step, n.get("eval_loss").asDouble()});
        }
        return new LossHistory(train, eval);
    }

    /** The largest step logged, or -1 when there is none. */
    public long lastStep() {
        double last = -1;
        for (double[] p : train) last = Math.max(last, p[0]);
        for (double[] p : eval) last = Math.max(last, p[0]);
        return (long) last;
    }

    /** The last training loss, or null. */
    public Double finalTrainLoss() {
        return train.isEmpty() ? null : train.getLast()[1];
    }

    /** The last held-out loss, or null. */
    public Double finalEvalLoss() {
        return eval.isEmpty() ? null : eval.getLast()[1];
    }
}
