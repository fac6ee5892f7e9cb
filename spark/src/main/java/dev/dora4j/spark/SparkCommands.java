package dev.dora4j.spark;

import dev.dora4j.cli.SparkBackend;
import dev.dora4j.model.LinearStorage;
import dev.dora4j.train.TrainConfig;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaSparkContext;

/** {@code train --spark}, {@code embed --spark} and {@code eval --task classify --spark} of the command line. */
public final class SparkCommands implements SparkBackend {
    @Override
    public long train(String master, int workers, TrainConfig config, Path out, boolean resume, int threadsPerWorker,
            int peerTimeoutSeconds, boolean debug, Consumer<String> progress) {
        SparkTrainOptions options = SparkTrainOptions.of(workers).withThreads(threadsPerWorker).withPeerTimeout(peerTimeoutSeconds);
        JavaSparkContext sc = SparkContexts.open(master, "dora4j train", debug);
        try {
            SparkTraining.Result r = resume ? SparkTraining.resume(sc, out, options, progress)
                    : SparkTraining.train(sc, config, out, options, progress);
            return r.steps();
        } finally {
            sc.stop();
        }
    }

    @Override
    public long embed(String master, Path model, Path tokenizer, Path adapter, LinearStorage storage, String pooling, int batch, Path data, Path out,
            int partitions, boolean debug) {
        EmbeddingJob job = new EmbeddingJob(absolute(model), absolute(tokenizer), absolute(adapter), storage, pooling, batch, -1);
        JavaSparkContext sc = SparkContexts.open(master, "dora4j embed", debug);
        try {
            return SparkEmbedding.embed(sc, job, data, out, partitions > 0 ? partitions : sc.defaultParallelism()).records();
        } finally {
            sc.stop();
        }
    }

    @Override
    public long classify(String master, Path model, Path tokenizer, Path adapter, LinearStorage storage, String pooling, int batch, Path data, Path out,
            int partitions, boolean debug) {
        ClassifyJob job = new ClassifyJob(absolute(model), absolute(tokenizer), absolute(adapter), storage, pooling, batch);
        JavaSparkContext sc = SparkContexts.open(master, "dora4j eval --task classify", debug);
        try {
            return SparkClassification.classify(sc, job, data, out, partitions > 0 ? partitions : sc.defaultParallelism());
        } finally {
            sc.stop();
        }
    }

    private static String absolute(Path p) {
        return p == null ? null : p.toAbsolutePath().toString();
    }
}
