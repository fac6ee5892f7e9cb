package dev.dora4j.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * Sentence embeddings of the {@code text} records of a JSONL, CSV or Parquet file on Spark ({@link TextRecords}), each
 * numbered by its 0-based place among the file's records: every partition embeds its records with
 * its executor's model ({@link ExecutorEmbedders}) and writes {@code OUT/part-NNNNN.jsonl}, one line
 * {@code {"index": n, "embedding": [...]}} per record, through a temporary file renamed into place. A retried or
 * speculative attempt therefore replaces the file whole: no partial file and no record twice. {@code _SUCCESS} marks a
 * finished job. The input and output paths must be visible to every executor (a shared or local file system).
 */
public final class SparkEmbedding {
    public static final String SUCCESS = "_SUCCESS";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The job's counts: records embedded, partition files written, seconds. */
    public record Result(long records, int partitions, double seconds) {}

    private SparkEmbedding() {}

    public static Result embed(JavaSparkContext sc, EmbeddingJob job, Path data, Path out, int partitions) {
        if (!SparkTraining.isEmptyOrMissing(out)) throw new DoraException(out + ": is not empty; choose a new --out (part files would mix)");
        long start = System.nanoTime();
        JavaRDD<Tuple2<String, Long>> records = TextRecords.read(sc, data, partitions);
        boolean created = !Files.exists(out);
        try {
            Files.createDirectories(out);
            String outDir = out.toAbsolutePath().toString();
            List<Long> counts = records.mapPartitionsWithIndex((index, part) -> List.of(writePartition(job, outDir, index, part)).iterator(),
                    false).collect();
            Files.writeString(out.resolve(SUCCESS), "");
            return new Result(counts.stream().mapToLong(Long::longValue).sum(), counts.size(), (System.nanoTime() - start) / 1e9);
        } catch (IOException e) {
            throw new DoraException(out + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (created) SparkTraining.deleteTree(out);
            throw e instanceof DoraException d ? d : SparkErrors.oneLine(e);
        }
    }

    /** Embeds one partition's records and writes them to {@code part-NNNNN.jsonl} atomically; returns the record count. */
    static long writePartition(EmbeddingJob job, String outDir, int partition, Iterator<Tuple2<String, Long>> records) {
        List<String> texts = new ArrayList<>();
        List<Long> indices = new ArrayList<>();
        while (records.hasNext()) {
            Tuple2<String, Long> r = records.next();
            indices.add(r._2());
            texts.add(r._1());
        }
        float[][] vectors = texts.isEmpty() ? new float[0][] : ExecutorEmbedders.embed(job, texts);
        TaskContext task = TaskContext.get();
        boolean drill = partition == job.faultInPartition() && task != null && task.attemptNumber() == 0;
        Path file = Path.of(outDir, String.format(Locale.ROOT, "part-%05d.jsonl", partition));
        AtomicFiles.write(file, tmp -> {
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                for (int i = 0; i < vectors.length; i++) {
                    if (drill && i == vectors.length / 2) throw new IOException("fault drill: partition " + partition + "'s first attempt dies");
                    ObjectNode line = JSON.createObjectNode();
                    line.put("index", indices.get(i));
                    ArrayNode v = line.putArray("embedding");
                    for (float x : vectors[i]) v.add(x);
                    w.write(line.toString());
                    w.write('\n');
                }
            }
        });
        return vectors.length;
    }
}
