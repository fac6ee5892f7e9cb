package dev.dora4j.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.reflect.ClassTag$;

/**
 * Data-parallel training on Spark, from the driver: writes the run's settings into the output directory, runs one
 * barrier stage of {@code workers} tasks ({@link RankTask}: one rank each, gradients summed by {@link RingAllReduce})
 * followed by {@code repartition(1)}, which makes the barrier stage a shuffle-map stage that Spark reruns whole when
 * a task fails; the relaunched gang resumes from rank 0's newest checkpoint. The output directory (checkpoints,
 * {@code metrics.jsonl}, the adapter) is the same as {@code train}'s and must be a path every worker and the driver
 * can read and rank 0 can write; model and data paths must hold the same files on every worker.
 */
public final class SparkTraining {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final long SLOT_WAIT_MILLIS = 30_000;

    /** The finished run: its directory, its last step, each rank's summary and the wall time. */
    public record Result(Path out, long steps, List<String> ranks, double seconds) {}

    private SparkTraining() {}

    /** Starts the run {@code config} in {@code out} (which must not exist or be empty); {@code progress} gets one line per step. */
    public static Result train(JavaSparkContext sc, TrainConfig config, Path out, SparkTrainOptions options, Consumer<String> progress) {
        if (Files.exists(out.resolve(TrainingRun.RUN_FILE))) {
            throw new DoraException(out + ": holds a previous run (" + TrainingRun.RUN_FILE + "); continue it with --resume " + out
                    + " or choose another --out");
        }
        if (!isEmptyOrMissing(out)) throw new DoraException(out + ": is not empty; choose a new --out");
        if (config.batch() < options.workers()) {
            throw new DoraException("--batch " + config.batch() + " is smaller than --workers " + options.workers()
                    + "; every worker needs at least one sequence of each global batch");
        }
        awaitSlots(sc, options.workers());
        boolean created = !Files.exists(out);
        try {
            Files.createDirectories(out);
            AtomicFiles.writeString(out.resolve(TrainingRun.RUN_FILE), absolute(config));
            return runGang(sc, out, options, progress);
        } catch (IOException e) {
            throw new DoraException(out + ": cannot create the output directory: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (created && new TrainCheckpoints(out).list().isEmpty()) deleteTree(out);
            throw e;
        }
    }

    /** Continues the run in {@code out} from its newest checkpoint, with any number of workers. */
    public static Result resume(JavaSparkContext sc, Path out, SparkTrainOptions options, Consumer<String> progress) {
        TrainConfig config = readConfig(out);
        if (config.batch() < options.workers()) {
            throw new DoraException("--workers " + options.workers() + " is more than the run's --batch " + config.batch());
        }
        awaitSlots(sc, options.workers());
        return runGang(sc, out, options, progress);
    }

    private static Result runGang(JavaSparkContext sc, Path out, SparkTrainOptions options, Consumer<String> progress) {
        long start = System.nanoTime();
        RDD<String> gang = sc.parallelize(IntStream.range(0, options.workers()).boxed().toList(), options.workers()).rdd()
                .barrier().mapPartitions(new RankTask(out, options), false, ClassTag$.MODULE$.apply(String.class));
        List<String> ranks;
        try (MetricsTail tail = new MetricsTail(out.resolve(TrainingRun.METRICS_FILE), progress)) {
            sc.setJobDescription("dora4j train: " + options.workers() + " ranks into " + out);
            ranks = gang.toJavaRDD().repartition(1).collect();
        } catch (RuntimeException e) {
            throw SparkErrors.oneLine(e);
        }
        List<Path> checkpoints = new TrainCheckpoints(out).list();
        long steps = MetricsTail.lastStep(out.resolve(TrainingRun.METRICS_FILE));
        if (steps < 0 && !checkpoints.isEmpty()) steps = TrainCheckpoints.stepOf(checkpoints.getLast());
        return new Result(out, steps, ranks.stream().sorted().toList(), (System.nanoTime() - start) / 1e9);
    }

    /** Waits up to 30 s for executors to offer {@code workers} task slots (a barrier stage needs them all at once). */
    static void awaitSlots(JavaSparkContext sc, int workers) {
        long deadline = System.currentTimeMillis() + SLOT_WAIT_MILLIS;
        int slots = SparkContexts.slots(sc);
        while (slots < workers && !sc.sc().isLocal() && System.currentTimeMillis() < deadline) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DoraException("interrupted while waiting for Spark executors", e);
            }
            slots = SparkContexts.slots(sc);
        }
        if (slots < workers) {
            throw new DoraException("--workers " + workers + " needs " + workers + " task slots at once, but " + sc.master() + " offers "
                    + slots + (sc.sc().isLocal() ? "" : " after " + SLOT_WAIT_MILLIS / 1000 + " s"));
        }
    }

    /** The settings of the run in {@code out} ({@code run.json}). */
    public static TrainConfig readConfig(Path out) {
        Path file = out.resolve(TrainingRun.RUN_FILE);
        if (!Files.isRegularFile(file)) throw new DoraException(out + ": no " + TrainingRun.RUN_FILE + " here; is this a training run's --out directory?");
        try {
            return JSON.readValue(file.toFile(), TrainConfig.class);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read the run's settings: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
    }

    /** The settings as {@code run.json} holds them, with every path absolute, as executors in other directories must see them. */
    private static String absolute(TrainConfig config) {
        ObjectNode settings = JSON.valueToTree(config);
        for (String field : List.of("model", "tokenizer", "data", "evalData", "initAdapter")) {
            JsonNode path = settings.get(field);
            if (path != null && path.isTextual()) settings.put(field, Path.of(path.asText()).toAbsolutePath().normalize().toString());
        }
        return settings.toPrettyString();
    }

    static boolean isEmptyOrMissing(Path dir) {
        if (!Files.exists(dir)) return true;
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> s = Files.list(dir)) {
            return s.allMatch(p -> p.getFileName().toString().equals("_SUCCESS"));
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot list it: " + e.getMessage(), e);
        }
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new DoraException(dir + ": cannot remove it: " + e.getMessage(), e);
        }
    }
}
