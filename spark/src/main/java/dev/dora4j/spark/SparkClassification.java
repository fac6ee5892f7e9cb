package dev.dora4j.spark;

import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A trained classifier's predictions on Spark ({@link SparkInference}): lines {@code {"index": n, "label": "<name>"}},
 * each partition classifying its records with its executor's classifier ({@link ExecutorClassifiers}).
 */
public final class SparkClassification {
    private SparkClassification() {}

    /** Returns the number of records classified. */
    public static long classify(JavaSparkContext sc, ClassifyJob job, Path data, Path out, int partitions) {
        return SparkInference.run(sc, (texts, lines) -> {
            var labels = ExecutorClassifiers.predict(job, texts);
            for (int i = 0; i < labels.size(); i++) lines.get(i).put("label", labels.get(i));
        }, data, out, partitions, -1).records();
    }
}
