package dev.dora4j.spark;

import static dev.dora4j.spark.SparkTestRuns.assertSameAdapter;
import static dev.dora4j.spark.SparkTestRuns.config;
import static dev.dora4j.spark.SparkTestRuns.maxRelativeDifference;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dora4j.DoraException;
import dev.dora4j.kernel.Parallel;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.train.TrainConfig;
import dev.dora4j.train.TrainingRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two ranks on local[2] against one process: exactness, relaunch after a fault, bad input. */
class SparkTrainingTest {
    static JavaSparkContext sc;
    static final List<String> PROGRESS = new ArrayList<>();

    @BeforeAll
    static void start() {
        Parallel.setThreads(1);
        sc = SparkContexts.open("local[2]", "dora4j-test", false);
    }

    @AfterAll
    static void stop() {
        sc.stop();
    }

    static Path single(TrainConfig config, Path out) {
        TrainingRun.start(config, out, null).run(m -> {}, Long.MAX_VALUE);
        return out;
    }

    static SparkTraining.Result spark(TrainConfig config, Path out, SparkTrainOptions options) {
        return SparkTraining.train(sc, config, out, options.withThreads(1).withPeerTimeout(60), PROGRESS::add);
    }

    /** Every rank ended with the same adapter checksum. */
    static void assertRanksAgree(SparkTraining.Result r, int ranks) {
        assertThat(r.ranks()).hasSize(ranks);
        String first = r.ranks().getFirst().replaceFirst(".*checksum ", "");
        for (String line : r.ranks()) assertThat(line).endsWith("checksum " + first);
    }

    @Test
    void doraOnStories260KWithOneSequencePerWorkerMatchesOneProcess(@TempDir Path tmp) throws Exception {
        TrainConfig c = config(SparkTestRuns.stories260K(), null, SparkTestRuns.stories(tmp), "dora", 5, 2, 1, 0);
        Path one = single(c, tmp.resolve("one"));
        SparkTraining.Result r = spark(c, tmp.resolve("two"), SparkTrainOptions.of(2).withChecksumEvery(1));
        assertRanksAgree(r, 2);
        assertThat(r.steps()).isEqualTo(5);
        double diff = maxRelativeDifference(tmp.resolve("two"), one);
        System.out.printf("DoRA stories260K, 2 ranks x 1 sequence vs one process: max relative difference %.3g%n", diff);
        assertThat(diff).isLessThan(1e-6);
        assertThat(Files.readAllLines(tmp.resolve("two").resolve(TrainingRun.METRICS_FILE))).hasSize(5);
    }

    @Test
    void loraOnATinyRandomLlamaWithOneSequencePerWorkerMatchesOneProcess(@TempDir Path tmp) throws Exception {
        Path model = SparkTestRuns.tinyLlama(tmp.resolve("tiny"));
        TrainConfig c = config(model, SparkTestRuns.tok512(), SparkTestRuns.stories(tmp), "lora", 5, 2, 1, 0);
        Path one = single(c, tmp.resolve("one"));
        SparkTraining.Result r = spark(c, tmp.resolve("two"), SparkTrainOptions.of(2).withChecksumEvery(1));
        assertRanksAgree(r, 2);
        double diff = maxRelativeDifference(tmp.resolve("two"), one);
        System.out.printf("LoRA tiny Llama, 2 ranks x 1 sequence vs one process: max relative difference %.3g%n", diff);
        assertThat(diff).isLessThan(1e-6);
    }

    /**
     * With several sequences per worker the ranks' partial sums add the batch's gradients in another order than one
     * process does, as changing --micro-batch does. Measured per tensor as ‖a − b‖ / ‖b‖, the single-process runs with
     * micro-batches 1 to 8 form a cloud whose diameter is that drift. Two ranks x 4 sequences, with --micro-batch 1
     * (one forward pass per sequence) and 4 (one pass of 4 sequences), must each lie within the drift of the cloud: no
     * farther from its nearest run than the runs of the cloud lie from each other. (Another order of the same sums is
     * one more point of the cloud, not one inside it: its distance to the farthest run can exceed the diameter, by
     * 1.4x in one build; a lost or doubled gradient moves the adapter by orders of magnitude more.)
     */
    @Test
    void severalSequencesPerWorkerStayWithinTheDriftOfChangingTheMicroBatch(@TempDir Path tmp) throws Exception {
        Path data = SparkTestRuns.stories(tmp);
        for (String method : List.of("dora", "lora")) {
            Path model = method.equals("dora") ? SparkTestRuns.stories260K() : SparkTestRuns.tinyLlama(tmp.resolve("tiny"));
            Path tok = method.equals("dora") ? null : SparkTestRuns.tok512();
            List<Path> cloud = new ArrayList<>();
            for (int micro = 1; micro <= 8; micro++) {
                cloud.add(single(config(model, tok, data, method, 5, 8, micro, 0), tmp.resolve(method + "-micro" + micro)));
            }
            double drift = 0;
            for (Path a : cloud) for (Path b : cloud) drift = Math.max(drift, SparkTestRuns.maxNormDifference(a, b));
            double[] farthest = new double[2], counterpart = new double[2];
            double[] nearest = {Double.MAX_VALUE, Double.MAX_VALUE};
            int[] micros = {1, 4};
            for (int k = 0; k < 2; k++) {
                Path run = tmp.resolve(method + "-spark-micro" + micros[k]);
                assertRanksAgree(spark(config(model, tok, data, method, 5, 8, micros[k], 0), run, SparkTrainOptions.of(2)), 2);
                for (Path a : cloud) {
                    double d = SparkTestRuns.maxNormDifference(run, a);
                    farthest[k] = Math.max(farthest[k], d);
                    nearest[k] = Math.min(nearest[k], d);
                }
                counterpart[k] = SparkTestRuns.maxNormDifference(run, cloud.get(micros[k] - 1));
            }
            System.out.printf("%s: one process, micro-batch 1 to 8 among themselves: %.3g; 2 ranks x 4 sequences with "
                    + "--micro-batch 1: %.3g from one process with the same options, %.3g from the nearest, %.3g from "
                    + "the farthest; with --micro-batch 4: %.3g, %.3g and %.3g%n", method, drift, counterpart[0],
                    nearest[0], farthest[0], counterpart[1], nearest[1], farthest[1]);
            assertThat(drift).as("changing --micro-batch alone moves the adapter").isGreaterThan(0);
            assertThat(nearest[0]).as("2 ranks, --micro-batch 1").isLessThanOrEqualTo(drift);
            assertThat(nearest[1]).as("2 ranks, --micro-batch 4").isLessThanOrEqualTo(drift);
        }
    }

    @Test
    void aGangWithAFailedTaskIsRelaunchedAndResumesToTheSameAdapter(@TempDir Path tmp) throws Exception {
        TrainConfig c = config(SparkTestRuns.stories260K(), null, SparkTestRuns.stories(tmp), "dora", 7, 4, 2, 2);
        spark(c, tmp.resolve("straight"), SparkTrainOptions.of(2));
        SparkTraining.Result r = spark(c, tmp.resolve("faulty"), SparkTrainOptions.of(2).withFaultAtStep(6));
        assertThat(r.ranks()).allMatch(line -> line.contains("steps 4 to 7"));
        assertSameAdapter(tmp.resolve("faulty"), tmp.resolve("straight"));
        assertThat(Files.readAllLines(tmp.resolve("faulty").resolve(TrainingRun.METRICS_FILE))).hasSize(7);
    }

    @Test
    void aRunResumesWithADifferentNumberOfWorkers(@TempDir Path tmp) throws Exception {
        TrainConfig c = config(SparkTestRuns.stories260K(), null, SparkTestRuns.stories(tmp), "lora", 4, 2, 1, 2);
        Path out = tmp.resolve("run");
        spark(c, out, SparkTrainOptions.of(2));
        Path single = single(c, tmp.resolve("single"));
        // as if the two-worker run had been stopped after its checkpoint at step 2
        Files.delete(out.resolve(AdapterFiles.WEIGHTS_FILE));
        SparkTraining.deleteTree(out.resolve("checkpoints/step-4"));
        assertThatThrownBy(() -> SparkTraining.resume(sc, out, SparkTrainOptions.of(3), PROGRESS::add))
                .hasMessage("--workers 3 is more than the run's --batch 2");
        SparkTraining.Result r = SparkTraining.resume(sc, out, SparkTrainOptions.of(1).withThreads(1), PROGRESS::add);
        assertThat(r.ranks()).singleElement().asString().contains("steps 2 to 4");
        assertSameAdapter(out, single);
        assertThat(Files.readAllLines(out.resolve(TrainingRun.METRICS_FILE))).hasSize(4);
    }

    @Test
    void moreWorkersThanSlotsIsOneClearErrorAndLeavesNothing(@TempDir Path tmp) throws Exception {
        TrainConfig c = config(SparkTestRuns.stories260K(), null, SparkTestRuns.stories(tmp), "dora", 2, 4, 1, 0);
        Path out = tmp.resolve("out");
        assertThatThrownBy(() -> spark(c, out, SparkTrainOptions.of(3))).isInstanceOf(DoraException.class)
                .hasMessage("--workers 3 needs 3 task slots at once, but local[2,4] offers 2");
        assertThat(out).doesNotExist();
    }

    @Test
    void anUnreachableMasterIsOneClearError() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> SparkContexts.open("spark://127.0.0.1:1", "x", false)).isInstanceOf(DoraException.class)
                .hasMessageStartingWith("cannot reach the Spark master at spark://127.0.0.1:1 (");
        assertThat((System.nanoTime() - start) / 1e9).isLessThan(120);
    }
}
