package dev.dora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.SafetensorsWriter;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Checkpoints under {@code OUT/checkpoints/step-N}: the trained tensors (a PEFT adapter, or the full
 * model), {@code optimizer.safetensors} and {@code trainer_state.json} (step, dropout stream
 * positions). Each checkpoint directory is written whole or not at all; older ones beyond the
 * number to keep are removed only after a newer one is complete.
 */
public final class TrainCheckpoints {
    public static final String DIR = "checkpoints";
    public static final String STATE_FILE = "trainer_state.json";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a checkpoint restores besides the trained tensors. */
    public record State(long step, Map<String, Long> dropoutPositions) {}

    /** Writes the trained tensors into a directory being built. */
    @FunctionalInterface
    public interface TensorWriter {
        void write(Path dir);
    }

    private final Path out;

    public TrainCheckpoints(Path out) {
        this.out = out;
    }

    public Path dir(long step) {
        return out.resolve(DIR).resolve("step-" + step);
    }

    public Path save(long step, TensorWriter tensors, Optimizer optimizer, Map<String, Long> dropoutPositions, int keep) {
        Path target = dir(step);
        ObjectNode state = JSON.createObjectNode();
        state.put("step", step);
        state.put("optimizer_steps", optimizer.steps());
        ObjectNode dp = state.putObject("dropout_positions");
        dropoutPositions.forEach(dp::put);
        SafetensorsWriter opt = new SafetensorsWriter();
        for (var e : optimizer.state().entrySet()) opt.add(e.getKey(), e.getValue(), new long[] {e.getValue().length}, DType.F32);
        AtomicFiles.writeDirectory(target, tmp -> {
            tensors.write(tmp);
            opt.write(tmp.resolve(OPTIMIZER_FILE));
            Files.writeString(tmp.resolve(STATE_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
        });
        prune(keep);
        return target;
    }

    /** Complete checkpoints, oldest first. */
    public List<Path> list() {
        Path root = out.resolve(DIR);
        if (!Files.isDirectory(root)) return List.of();
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d+") && Files.isRegularFile(p.resolve(STATE_FILE)))
                    .sorted(Comparator.comparingLong(TrainCheckpoints::stepOf))
                    .toList();
        } catch (IOException e) {
            throw new DoraException(root + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    public static long stepOf(Path checkpoint) {
        return Long.parseLong(checkpoint.getFileName().toString().substring("step-".length()));
    }

    private void prune(int keep) {
        if (keep <= 0) return;
        List<Path> all = new ArrayList<>(list());
        while (all.size() > keep) {
            Path old = all.removeFirst();
            deleteTree(old);
        }
    }

    public static State readState(Path checkpoint) {
        Path file = checkpoint.resolve(STATE_FILE);
        try {
            JsonNode n = JSON.readTree(file.toFile());
            Map<String, Long> dp = new LinkedHashMap<>();
            n.path("dropout_positions").fields().forEachRemaining(e -> dp.put(e.getKey(), e.getValue().asLong()));
            if (!n.has("step")) throw new DoraException(file + ": missing key 'step'");
            return new State(n.get("step").asLong(), dp);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read trainer state: " + e.getMessage(), e);
        }
    }

    public static void loadOptimizer(Path checkpoint, Optimizer optimizer, long steps) {
        Map<String, float[]> state = new LinkedHashMap<>();
        Path file = checkpoint.resolve(OPTIMIZER_FILE);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (TensorInfo t : f.tensors()) state.put(t.name(), f.readFloats(t.name()));
        }
        try {
            optimizer.load(state, steps);
        } catch (DoraException e) {
            throw new DoraException(file + ": " + e.getMessage());
        }
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot remove old checkpoint: " + e.getMessage(), e);
        }
    }
}
