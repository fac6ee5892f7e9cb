package dev.dora4j.spark;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Sentence embeddings on Spark ({@link SparkInference}): lines {@code {"index": n, "embedding": [...]}}, each partition
 * embedding its records with its executor's model ({@link ExecutorEmbedders}).
 */
public final class SparkEmbedding {
    public static final String SUCCESS = SparkInference.SUCCESS;

    /** The job's counts: records embedded, partition files written, seconds. */
    public record Result(long records, int partitions, double seconds) {}

    private SparkEmbedding() {}

    public static Result embed(JavaSparkContext sc, EmbeddingJob job, Path data, Path out, int partitions) {
        EmbeddingJob plain = job.withFaultInPartition(-1);
        SparkInference.Result r = SparkInference.run(sc, (texts, lines) -> {
            float[][] vectors = ExecutorEmbedders.embed(plain, texts);
            for (int i = 0; i < vectors.length; i++) {
                ArrayNode v = lines.get(i).putArray("embedding");
                for (float x : vectors[i]) v.add(x);
            }
        }, data, out, partitions, job.faultInPartition());
        return new Result(r.records(), r.partitions(), r.seconds());
    }
}
