package dev.dora4j.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Serializable;
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
 * Batch inference over the {@code text} records of a JSONL, CSV or Parquet file on Spark ({@link TextRecords}), each
 * numbered by its 0-based place among the file's records: every partition runs its records through its executor's
 * model and writes {@code OUT/part-NNNNN.jsonl}, one line {@code {"index": n, ...}} per record, through a temporary file
 * renamed into place. A retried or speculative attempt therefore replaces the file whole: no partial file and no record
 * twice. {@code _SUCCESS} marks a finished job. The input and output paths must be visible to every executor.
 */
final class SparkInference {
    static final String SUCCESS = "_SUCCESS";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a partition computes for its texts: the fields after {@code index} of each text's line, in order. */
    interface Inference extends Serializable {
        void fill(List<String> texts, List<ObjectNode> lines);
    }

    /** The job's counts: records written, partition files written, seconds. */
    record Result(long records, int partitions, double seconds) {}

    private SparkInference() {}

    /** {@code faultInPartition}: a drill for tests, that partition's first attempt fails halfway through its file (-1: never). */
    static Result run(JavaSparkContext sc, Inference inference, Path data, Path out, int partitions, int faultInPartition) {
        if (!SparkTraining.isEmptyOrMissing(out)) throw new DoraException(out + ": is not empty; choose a new --out (part files would mix)");
        long start = System.nanoTime();
        JavaRDD<Tuple2<String, Long>> records = TextRecords.read(sc, data, partitions);
        boolean created = !Files.exists(out);
        try {
            Files.createDirectories(out);
            String outDir = out.toAbsolutePath().toString();
            List<Long> counts = records.mapPartitionsWithIndex(
                    (index, part) -> List.of(writePartition(inference, outDir, index, part, faultInPartition)).iterator(), false).collect();
            Files.writeString(out.resolve(SUCCESS), "");
            return new Result(counts.stream().mapToLong(Long::longValue).sum(), counts.size(), (System.nanoTime() - start) / 1e9);
        } catch (IOException e) {
            throw new DoraException(out + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (created) SparkTraining.deleteTree(out);
            throw e instanceof DoraException d ? d : SparkErrors.oneLine(e);
        }
    }

    /** Runs one partition's records and writes them to {@code part-NNNNN.jsonl} atomically; returns the record count. */
    private static long writePartition(Inference inference, String outDir, int partition, Iterator<Tuple2<String, Long>> records,
            int faultInPartition) {
        List<String> texts = new ArrayList<>();
        List<ObjectNode> lines = new ArrayList<>();
        while (records.hasNext()) {
            Tuple2<String, Long> r = records.next();
            texts.add(r._1());
            lines.add(JSON.createObjectNode().put("index", r._2()));
        }
        if (!texts.isEmpty()) inference.fill(texts, lines);
        TaskContext task = TaskContext.get();
        boolean drill = partition == faultInPartition && task != null && task.attemptNumber() == 0;
        Path file = Path.of(outDir, String.format(Locale.ROOT, "part-%05d.jsonl", partition));
        AtomicFiles.write(file, tmp -> {
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                for (int i = 0; i < lines.size(); i++) {
                    if (drill && i == lines.size() / 2) throw new IOException("fault drill: partition " + partition + "'s first attempt dies");
                    w.write(lines.get(i).toString());
                    w.write('\n');
                }
            }
        });
        return lines.size();
    }
}
