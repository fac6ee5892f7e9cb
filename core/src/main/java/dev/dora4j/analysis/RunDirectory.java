package dev.dora4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.PeftMethods;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A training run's output directory as {@code dora4j train} leaves it: {@code run.json},
 * {@code metrics.jsonl}, complete checkpoints under {@code checkpoints/step-N} and the final adapter or
 * model in the directory itself, whose step is the last one {@code metrics.jsonl} logs (else run.json's
 * {@code steps}). A checkpoint at the final step holds the same weights and is counted once.
 *
 * @param label     the run's name in tables and plots
 * @param method    dora, lora or full: run.json's {@code method}, else what the files say
 * @param snapshots the weights to analyse, by step
 */
public record RunDirectory(String label, Path dir, String method, List<Snapshot> snapshots) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public RunDirectory {
        snapshots = List.copyOf(snapshots);
    }

    public static RunDirectory open(Path dir, String label) {
        if (!Files.isDirectory(dir)) throw new DoraException(dir + ": run directory not found");
        JsonNode runJson = readRunJson(dir);
        List<Snapshot> snapshots = new ArrayList<>();
        for (Path checkpoint : new TrainCheckpoints(dir).list()) {
            Snapshot s = Snapshot.at(TrainCheckpoints.stepOf(checkpoint), checkpoint);
            if (s == null) {
                throw new DoraException(checkpoint + ": neither " + AdapterConfig.FILE_NAME + " nor model.safetensors in this checkpoint");
            }
            snapshots.add(s);
        }
        if (Snapshot.at(0, dir) != null) {
            long step = finalStep(dir, runJson);
            snapshots.removeIf(s -> s.step() == step);
            snapshots.add(Snapshot.at(step, dir));
        }
        if (snapshots.isEmpty()) {
            throw new DoraException(dir + ": no checkpoints (checkpoints/step-N) and no final adapter or model;"
                    + " is this a training run's --out directory?");
        }
        snapshots.sort(Comparator.comparingLong(Snapshot::step));
        String method = runJson.path("method").isTextual() ? runJson.get("method").asText() : snapshots.getFirst().method();
        if (!method.equals(Snapshot.FULL) && !PeftMethods.isMethod(method)) {
            throw new DoraException(dir.resolve(TrainingRun.RUN_FILE) + ": method '" + method + "' is not " + Snapshot.FULL
                    + " nor an adapter method (" + PeftMethods.ids() + ")");
        }
        for (Snapshot s : snapshots) {
            if (!s.method().equals(method)) {
                String file = s.isAdapter() ? AdapterConfig.FILE_NAME : "model.safetensors";
                throw new DoraException(s.dir().resolve(file) + ": holds " + describe(s.method()) + " but the run is "
                        + describe(method) + (runJson.has("method") ? " (run.json)" : " (its first snapshot)"));
            }
        }
        return new RunDirectory(label, dir, method, snapshots);
    }

    /** The steps analysed, in order. */
    public List<Long> steps() {
        return snapshots.stream().map(Snapshot::step).toList();
    }

    private static String describe(String method) {
        return method.equals(Snapshot.FULL) ? "a full model" : "a " + PeftMethods.named(method).displayName() + " adapter";
    }

    private static long finalStep(Path dir, JsonNode runJson) {
        long last = LossHistory.read(dir).lastStep();
        if (last >= 0) return last;
        if (runJson.path("steps").canConvertToLong() && runJson.get("steps").asLong() > 0) return runJson.get("steps").asLong();
        throw new DoraException(dir + ": cannot tell the step of the final output: no steps in " + TrainingRun.METRICS_FILE
                + " and no 'steps' in " + TrainingRun.RUN_FILE);
    }

    private static JsonNode readRunJson(Path dir) {
        Path file = dir.resolve(TrainingRun.RUN_FILE);
        if (!Files.isRegularFile(file)) return JSON.createObjectNode();
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new DoraException(file + ": expected a JSON object");
            return n;
        } catch (IOException e) {
            throw new DoraException(file + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }
}
