package dev.dora4j.cli;

import dev.dora4j.DoraException;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.train.TrainConfig;
import java.nio.file.Path;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/**
 * What {@code --spark} runs: provided by the {@code dora4j-spark} module (found through {@link ServiceLoader}), so that
 * the command line itself carries none of Spark's jars. {@code ./dora4j} puts that module on the class path when the
 * arguments hold {@code --spark}; {@code spark-submit} runs it from {@code dora4j-spark.jar}.
 */
public interface SparkBackend {
    /** One data-parallel training run ({@code config} null: continue the run in {@code out}); returns the steps reached. */
    long train(String master, int workers, TrainConfig config, Path out, boolean resume, int threadsPerWorker, int peerTimeoutSeconds,
            boolean debug, Consumer<String> progress);

    /** Embeds the {@code text} records of {@code data} (JSONL, CSV or Parquet), the linear weights kept as {@code storage} says, into {@code out/part-NNNNN.jsonl}; returns the record count. */
    long embed(String master, Path model, Path tokenizer, Path adapter, LinearStorage storage, String pooling, int batch, Path data, Path out, int partitions,
            boolean debug);

    /**
     * Predicts the label of every {@code text} record of {@code data} with a trained classifier (its adapter, or the
     * model's own head when {@code adapter} is null) into {@code out/part-NNNNN.jsonl}; returns the record count.
     */
    long classify(String master, Path model, Path tokenizer, Path adapter, LinearStorage storage, String pooling, int batch, Path data, Path out, int partitions,
            boolean debug);

    static SparkBackend load() {
        return ServiceLoader.load(SparkBackend.class).findFirst().orElseThrow(() -> new DoraException(
                "--spark needs the dora4j-spark module on the class path: run ./dora4j (it switches to spark/target when it sees"
                        + " --spark) or spark-submit spark/target/dora4j-spark-submit.jar"));
    }
}
