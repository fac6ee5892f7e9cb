package dev.dora4j.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.model.BundledModel;
import dev.dora4j.model.LlamaLoader;
import dev.dora4j.model.LlamaModel;
import dev.dora4j.peft.AdapterConfig;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.peft.AdapterInjector;
import dev.dora4j.peft.LoraAdapter;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import dev.dora4j.testing.LoraAdapters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full disk: a 2 MB tmpfs filled with ballast. A checkpoint that does not fit, and an adapter that
 * does not fit over the old one, leave the previous checkpoint and adapter byte for byte as they were, leave
 * no temporary behind, and the error says that the disk is full and the previous content unchanged.
 */
class DiskFullTest {
    @TempDir
    Path tmp;

    @Test
    void aCheckpointThatDoesNotFitKeepsThePreviousOneAndSaysSo() throws Exception {
        Path data = CrashSafetyTest.writeData(tmp);
        try (Tmpfs disk = Tmpfs.mount(tmp.resolve("disk"), "2m")) {
            Path out = disk.dir().resolve("run");
            TrainingRun run = TrainingRun.start(CrashSafetyTest.config(data, 6, 2), out, null);
            run.run(m -> { }, 2);
            Path stepTwo = out.resolve("checkpoints/step-2");
            Map<String, String> before = CrashSafetyTest.contents(stepTwo);
            long checkpointBytes = before.values().stream().mapToLong(v -> v.length() * 3L / 4).sum();
            disk.fill(disk.dir().resolve("ballast"), checkpointBytes / 2);

            assertThatThrownBy(() -> run.run(m -> { }, Long.MAX_VALUE))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessageStartingWith(out.resolve("checkpoints/step-4") + "/")
                    .hasMessageContaining(": cannot write: disk full (IOException: No space left on device); any"
                            + " previous content is unchanged; training stopped after step 4; the last good checkpoint"
                            + " is " + stepTwo);
            assertThat(CrashSafetyTest.contents(stepTwo)).as("step-2 is intact").isEqualTo(before);
            assertThat(CrashSafetyTest.tree(out.resolve("checkpoints"))).allMatch(p -> p.startsWith("step-2"));
            assertThat(new TrainCheckpoints(out).list()).containsExactly(stepTwo);
            assertThat(out.resolve(AdapterFiles.WEIGHTS_FILE)).doesNotExist();

            Files.delete(disk.dir().resolve("ballast"));
            TrainingRun resumed = TrainingRun.resume(out, null);
            assertThat(resumed.trainer().step()).isEqualTo(2);
            resumed.run(m -> { }, Long.MAX_VALUE);
            assertThat(AdapterFiles.read(out).modules()).hasSize(10);
        }
    }

    @Test
    void anAdapterThatDoesNotFitKeepsTheOldAdapterAndSaysSo() throws Exception {
        LlamaModel model = LlamaLoader.load(BundledModel.checkpoint());
        AdapterConfig config = AdapterConfig.create(8, 16, 0f, List.of("q_proj", "k_proj", "v_proj", "up_proj",
                "down_proj"), true, false, "CAUSAL_LM", "stories260K");
        Map<String, LoraAdapter> adapters = LoraAdapters.of(AdapterInjector.inject(model.linears(), config, LlamaModel.OUTPUT_HEAD, 5));
        try (Tmpfs disk = Tmpfs.mount(tmp.resolve("disk"), "2m")) {
            Path dir = disk.dir().resolve("adapter");
            AdapterFiles.write(dir, config, adapters);
            Map<String, String> before = CrashSafetyTest.contents(dir);
            disk.fill(disk.dir().resolve("ballast"), 16 * 1024);
            adapters.values().forEach(a -> Arrays.fill(a.loraB().data(), 0.5f));

            assertThatThrownBy(() -> AdapterFiles.write(dir, config, adapters))
                    .isExactlyInstanceOf(DoraException.class)
                    .hasMessage(dir.resolve(AdapterFiles.WEIGHTS_FILE) + ": cannot write: disk full (IOException: No"
                            + " space left on device); any previous content is unchanged");
            assertThat(CrashSafetyTest.contents(dir)).as("the old adapter is intact").isEqualTo(before);
            assertThat(CrashSafetyTest.tree(disk.dir())).containsExactly("adapter", "adapter/adapter_config.json",
                    "adapter/adapter_model.safetensors", "ballast");
        }
    }
}
