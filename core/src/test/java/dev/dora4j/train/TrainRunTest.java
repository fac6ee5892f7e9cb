package dev.dora4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.model.BundledModel;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole runs on the bundled stories260K: accumulation, interruption and resume, faults. */
class TrainRunTest {
    static Path writeData(Path dir) throws Exception {
        String[] names = {"Tom", "Sue", "Ben", "Lily", "Max", "Mia"};
        String[] things = {"a red ball", "a small boat", "a blue kite", "a big box"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            String n = names[i % names.length], t = things[(i / 3) % things.length];
            lines.add("{\"text\": \"Once upon a time, " + n + " had " + t + ". " + n + " liked to play with it every day. One day it was lost, and "
                    + n + " looked for it" + (i % 2 == 0 ? " in the park." : " by the sea.") + "\"}");
        }
        Path file = dir.resolve("train.jsonl");
        Files.write(file, lines);
        return file;
    }

    static TrainConfig config(Path data, String method, int steps, int batch, int micro, float dropout, int saveEvery) {
        return new TrainConfig(BundledModel.checkpoint().toString(), null, data.toString(), null, method, 4, 8, dropout,
                List.of("q_proj", "v_proj", "up_proj", "down_proj"), false, 5e-3f, "adamw", 0.01f, 1, steps, batch, micro, 64,
                0, "linear", 1.0f, 7, true, false, null, 0, saveEvery, 0, 1f, false, false);
    }

    static final Trainer.Listener QUIET = m -> {};

    @Test
    void gradientAccumulationGivesTheSameUpdate(@TempDir Path tmp) throws Exception {
        Path data = writeData(tmp);
        TrainingRun one = TrainingRun.start(config(data, "dora", 1, 8, 8, 0f, 0), tmp.resolve("one"), null);
        one.run(QUIET, Long.MAX_VALUE);
        TrainingRun four = TrainingRun.start(config(data, "dora", 1, 8, 2, 0f, 0), tmp.resolve("four"), null);
        four.run(QUIET, Long.MAX_VALUE);
        Map<String, AdapterWeights> a = LoraAdapters.weights(AdapterFiles.read(tmp.resolve("one")).modules()),
                b = LoraAdapters.weights(AdapterFiles.read(tmp.resolve("four")).modules());
        for (String path : a.keySet()) {
            assertClose(b.get(path).loraA(), a.get(path).loraA(), path + " A");
            assertClose(b.get(path).loraB(), a.get(path).loraB(), path + " B");
            assertClose(b.get(path).magnitude(), a.get(path).magnitude(), path + " m");
        }
        assertThat(a.values().stream().anyMatch(w -> w.loraB()[0] != 0f)).as("the step changed B").isTrue();
    }

    private static void assertClose(float[] actual, float[] expected, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as(what + "[" + i + "]")
                    .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-6 + 1e-5 * Math.abs(expected[i])));
        }
    }

    @Test
    void interruptedRunResumesToTheSameAdapter(@TempDir Path tmp) throws Exception {
        Path data = writeData(tmp);
        TrainConfig cfg = config(data, "dora", 10, 4, 2, 0.1f, 3);
        Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
        TrainingRun.start(cfg, straight, null).run(QUIET, Long.MAX_VALUE);

        TrainingRun first = TrainingRun.start(cfg, killed, null);
        first.run(QUIET, 7);
        assertThat(first.trainer().step()).isEqualTo(7);
        assertThat(Files.exists(killed.resolve(AdapterFiles.WEIGHTS_FILE))).isFalse();
        assertThat(Files.readAllLines(killed.resolve(TrainingRun.METRICS_FILE))).hasSize(7);

        TrainingRun resumed = TrainingRun.resume(killed, null);
        assertThat(resumed.trainer().step()).isEqualTo(6);
        assertThat(Files.readAllLines(killed.resolve(TrainingRun.METRICS_FILE))).hasSize(6);
        resumed.run(QUIET, Long.MAX_VALUE);

        assertThat(Files.readAllBytes(killed.resolve(AdapterFiles.WEIGHTS_FILE)))
                .isEqualTo(Files.readAllBytes(straight.resolve(AdapterFiles.WEIGHTS_FILE)));
        List<String> a = Files.readAllLines(straight.resolve(TrainingRun.METRICS_FILE));
        List<String> b = Files.readAllLines(killed.resolve(TrainingRun.METRICS_FILE));
        assertThat(b).hasSameSizeAs(a);
        for (int i = 0; i < a.size(); i++) assertThat(lossOf(b.get(i))).isEqualTo(lossOf(a.get(i)));
        assertThat(new TrainCheckpoints(killed).list()).extracting(p -> p.getFileName().toString())
                .containsExactly("step-3", "step-6", "step-9");
    }

    private static String lossOf(String line) {
        return line.replaceAll(".*\"loss\":([^,]*),.*", "$1");
    }

    @Test
    void aNonFiniteLossStopsWithTheStepAndKeepsTheCheckpoint(@TempDir Path tmp) throws Exception {
        Path data = writeData(tmp);
        TrainingRun run = TrainingRun.start(config(data, "lora", 6, 4, 4, 0f, 2), tmp.resolve("run"), null);
        run.run(QUIET, 2);
        run.model().namedTensors().get("model.norm.weight").data()[0] = Float.NaN;
        assertThatThrownBy(() -> run.run(QUIET, Long.MAX_VALUE))
                .isInstanceOf(DoraException.class)
                .hasMessageContaining("step 3")
                .hasMessageContaining("checkpoints/step-2");
        assertThat(tmp.resolve("run/checkpoints/step-2/adapter_model.safetensors")).exists();
    }

    @Test
    void aSecondRunIntoTheSameDirectoryIsRefused(@TempDir Path tmp) throws Exception {
        Path data = writeData(tmp);
        TrainingRun.start(config(data, "lora", 1, 4, 4, 0f, 0), tmp.resolve("run"), null);
        assertThatThrownBy(() -> TrainingRun.start(config(data, "lora", 1, 4, 4, 0f, 0), tmp.resolve("run"), null))
                .isInstanceOf(DoraException.class).hasMessageContaining("--resume");
    }

    @Test
    void fullFineTuningWritesALoadableModelDirectory(@TempDir Path tmp) throws Exception {
        Path data = writeData(tmp);
        Path out = tmp.resolve("full");
        TrainingRun run = TrainingRun.start(config(data, "full", 2, 4, 4, 0f, 0), out, null);
        run.run(QUIET, Long.MAX_VALUE);
        var loaded = dev.dora4j.model.LlamaLoader.load(out);
        assertThat(loaded.embedTokens().data()).isEqualTo(run.model().namedTensors().get("model.embed_tokens.weight").data());
        assertThat(out.resolve("tokenizer.bin")).exists();
        assertThat(dev.dora4j.tokenizer.Tokenizers.load(out, null).vocabSize()).isEqualTo(512);
    }
}
