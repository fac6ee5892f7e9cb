package dev.dora4j.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.dora4j.DoraException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import scala.Tuple2;

/**
 * The {@code text} of every record of a batch-inference input, paired with the record's 0-based place in the file:
 * JSONL ({@code {"text"}} objects, blank lines skipped), CSV (RFC 4180: a header row, quotes doubled inside quoted fields), or Parquet, chosen by the file's
 * extension. CSV and Parquet are read through Spark SQL; their rows are put in file order explicitly (by the byte
 * offset of the split a row was read from, then the row's place in that split) before they are numbered, so the index
 * does not depend on how Spark packs splits into partitions.
 */
final class TextRecords {
    static final String COLUMN = "text";
    private static final ObjectMapper JSON = new ObjectMapper();

    private TextRecords() {}

    /** (text, index) pairs of {@code data}, in at least {@code partitions} partitions where the reader can split. */
    static JavaRDD<Tuple2<String, Long>> read(JavaSparkContext sc, Path data, int partitions) {
        if (!Files.isRegularFile(data)) throw new DoraException(data + ": no such file");
        String name = data.getFileName().toString().toLowerCase(Locale.ROOT), uri = data.toAbsolutePath().toUri().toString();
        String file = data.toString();
        int n = Math.max(1, partitions);
        if (name.endsWith(".csv") || name.endsWith(".parquet")) {
            Dataset<Row> table;
            try {
                table = name.endsWith(".csv") ? tableReader().option("header", "true").option("multiLine", "true").option("escape", "\"").csv(uri)
                        : tableReader().parquet(uri);
            } catch (Exception e) {
                throw new DoraException(file + ": cannot be read as " + name.substring(name.lastIndexOf('.') + 1) + ": "
                        + String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString()), e);
            }
            return fromTable(file, n, table);
        }
        if (name.endsWith(".jsonl") || name.endsWith(".json")) {
            return sc.textFile(uri, n).filter(l -> !l.isBlank()).zipWithIndex().map(t -> new Tuple2<>(jsonText(file, t._1(), t._2()), t._2()));
        }
        throw new DoraException(data + ": unknown input format; --data must end in .jsonl, .csv or .parquet");
    }

    /** A reader of the Spark SQL session over the running context. */
    private static DataFrameReader tableReader() {
        return SparkSession.builder().getOrCreate().read();
    }

    /**
     * Rows in file order: each row keyed by (start of its split, its place in the split's partition), the keys ranged
     * into {@code partitions} partitions and sorted inside each, so partition i holds the i-th run of rows.
     */
    private static JavaRDD<Tuple2<String, Long>> fromTable(String data, int partitions, Dataset<Row> table) {
        if (!Arrays.asList(table.columns()).contains(COLUMN)) {
            throw new DoraException(data + ": no column '" + COLUMN + "'; its columns are " + String.join(", ", table.columns()));
        }
        Column split = functions.col("_metadata.file_block_start").as("split"), row = functions.monotonically_increasing_id().as("row");
        Dataset<Row> ordered = table.select(functions.col(COLUMN).cast("string").as(COLUMN), split, row)
                .repartitionByRange(partitions, functions.col("split"), functions.col("row"))
                .sortWithinPartitions("split", "row").select(COLUMN);
        return ordered.javaRDD().zipWithIndex().map(t -> {
            if (t._1().isNullAt(0)) throw new DoraException(data + ": record " + t._2() + ": empty '" + COLUMN + "'");
            return new Tuple2<>(t._1().getString(0), t._2());
        });
    }

    private static String jsonText(String data, String line, long index) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DoraException(data + ": record " + index + ": not a JSON object: " + e.getOriginalMessage());
        }
        JsonNode text = n == null ? null : n.get(COLUMN);
        if (text == null || !text.isTextual()) throw new DoraException(data + ": record " + index + ": no string field '" + COLUMN + "'");
        return text.asText();
    }
}
