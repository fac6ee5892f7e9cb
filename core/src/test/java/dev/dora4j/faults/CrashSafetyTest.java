package dev.dora4j.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.model.BundledModel;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.train.Optimizer;
import dev.dora4j.train.Parameter;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import dev.dora4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes that fail half-way, simulated by writers that throw the IOException a full disk gives: the previous
 * file, checkpoint or adapter stays as it was, nothing half-written is left, and the error says so. (The same
 * on a real full file system is {@link DiskFullTest}, where the machine lets a test mount one.)
 */
class CrashSafetyTest {
    static final String ENOSPC = "No space left on device";

    @TempDir
    Path tmp;

    @Test
    void aFileWriteThatRunsOutOfSpaceKeepsTheOldFile() throws Exception {
        Path target = tmp.resolve("adapter_config.json");
        AtomicFiles.writeString(target, "{\"r\": 8}");
        assertThatThrownBy(() -> AtomicFiles.write(target, file -> {
            Files.writeString(file, "{\"r\": ");
            throw new IOException(ENOSPC);
        }))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(target + ": cannot write: disk full (IOException: " + ENOSPC + "); any previous content is"
                        + " unchanged");
        assertThat(target).hasContent("{\"r\": 8}");
        assertThat(tree(tmp)).containsExactly("adapter_config.json");
    }

    @Test
    void aCheckpointThatRunsOutOfSpaceLeavesTheEarlierOnesWhole() throws Exception {
        TrainCheckpoints checkpoints = new TrainCheckpoints(tmp);
        Optimizer optimizer = Optimizer.create("adamw",
                List.of(new Parameter("w", Tensor.param(new float[] {1f, 2f}, 2), true, 1f)), 0f);
        checkpoints.save(2, dir -> write(dir.resolve("adapter_model.safetensors"), "weights at step 2"), optimizer,
                Map.of(), 0);
        Map<String, String> before = contents(checkpoints.dir(2));

        assertThatThrownBy(() -> checkpoints.save(4, dir -> {
            write(dir.resolve("adapter_model.safetensors"), "weights at st");
            throw new DoraException(dir.resolve("adapter_model.safetensors") + ": cannot write: disk full (IOException: "
                    + ENOSPC + "); any previous content is unchanged");
        }, optimizer, Map.of(), 0))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessageContaining("disk full");
        assertThat(contents(checkpoints.dir(2))).as("step-2 is intact").isEqualTo(before);
        assertThat(checkpoints.list()).containsExactly(checkpoints.dir(2));
        assertThat(tree(tmp.resolve(TrainCheckpoints.DIR))).as("no half-written step-4 and no temporary folder")
                .allMatch(p -> p.startsWith("step-2"));
    }

    @Test
    void aTrainingRunWhoseCheckpointCannotBeWrittenStopsNamingTheLastGoodOne() throws Exception {
        Path out = tmp.resolve("run");
        TrainingRun run = TrainingRun.start(config(writeData(tmp), 6, 2), out, null);
        run.run(m -> { }, 2);
        Path stepTwo = out.resolve("checkpoints/step-2");
        Map<String, String> before = contents(stepTwo);
        Files.writeString(out.resolve("checkpoints/step-4"), "a file where the checkpoint folder should go");

        assertThatThrownBy(() -> run.run(m -> { }, Long.MAX_VALUE))
                .isExactlyInstanceOf(DoraException.class)
                .hasMessage(out.resolve("checkpoints/step-4") + ": cannot write: it exists and is not a directory;"
                        + " training stopped after step 4; the last good checkpoint is " + stepTwo);
        assertThat(contents(stepTwo)).isEqualTo(before);
        assertThat(out.resolve(AdapterFiles.WEIGHTS_FILE)).as("no final adapter").doesNotExist();
        assertThat(tree(out.resolve("checkpoints"))).allMatch(p -> p.startsWith("step-2") || p.equals("step-4"));
    }

    @Test
    void temporariesLeftByAKilledProcessAreRemovedAndNothingElse() throws Exception {
        Files.writeString(tmp.resolve(".adapter_model.safetensors.tmp-0123456789abcdef"), "half");
        Files.createDirectories(tmp.resolve(".step-4.tmp-fedcba9876543210/sub"));
        Files.writeString(tmp.resolve(".step-4.tmp-fedcba9876543210/sub/optimizer.safetensors"), "half");
        Files.writeString(tmp.resolve("metrics.jsonl"), "{}\n");
        Files.writeString(tmp.resolve(".hidden"), "mine");
        Files.writeString(tmp.resolve("notes.tmp-0123456789abcdef"), "mine");
        assertThat(AtomicFiles.removeLeftovers(tmp)).isEqualTo(2);
        assertThat(tree(tmp)).containsExactly(".hidden", "metrics.jsonl", "notes.tmp-0123456789abcdef");
    }

    /** A small DoRA run on stories260K, by setting name (settings not named keep their zero defaults). */
    static TrainConfig config(Path data, int steps, int saveEvery) {
        Map<String, Object> settings = Map.ofEntries(Map.entry("model", BundledModel.checkpoint().toString()),
                Map.entry("data", data.toString()), Map.entry("method", "dora"), Map.entry("rank", 4),
                Map.entry("alpha", 8), Map.entry("targets", List.of("q_proj", "v_proj")), Map.entry("lr", 5e-3),
                Map.entry("optimizer", "adamw"), Map.entry("epochs", 1), Map.entry("steps", steps), Map.entry("batch", 4),
                Map.entry("microBatch", 2), Map.entry("seqLen", 32), Map.entry("schedule", "linear"),
                Map.entry("maxGradNorm", 1), Map.entry("seed", 7), Map.entry("shuffle", true),
                Map.entry("saveEvery", saveEvery), Map.entry("magnitudeLrRatio", 1));
        return new ObjectMapper().convertValue(settings, TrainConfig.class);
    }

    static Path writeData(Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            lines.add("{\"text\": \"Pip lit the lamp on night " + i + " and the boats came home.\"}");
        }
        return Files.write(dir.resolve("data.jsonl"), lines);
    }

    static void write(Path file, String content) {
        try {
            Files.writeString(file, content);
        } catch (IOException e) {
            throw new DoraException(file + ": " + e.getMessage(), e);
        }
    }

    /** Every file under {@code dir}, relative, with its bytes (in Base64). */
    static Map<String, String> contents(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.put(dir.relativize(f).toString(), Base64.getEncoder().encodeToString(Files.readAllBytes(f)));
            }
        }
        return out;
    }

    /** Every path under {@code dir}, relative, sorted. */
    static List<String> tree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }
}
