package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.io.SafetensorsFile;
import dev.dora4j.io.TensorInfo;
import dev.dora4j.peft.AdapterFiles;
import dev.dora4j.train.TrainCheckpoints;
import dev.dora4j.train.TrainingRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run killed with SIGKILL in the middle of its work resumes with {@code --resume} from its newest
 * checkpoint and ends with exactly the adapter, byte for byte, and the losses of a run that was never
 * interrupted. The killed run is a child JVM running the command line on the bundled stories260K; it is
 * killed once metrics.jsonl reaches a random step past the first checkpoint.
 */
class KillResumeTest {
    private static final int STEPS = 16;
    private static final int SAVE_EVERY = 4;

    @TempDir
    Path tmp;

    private List<String> trainArgs(Path data, Path out) {
        return List.of("train", "--data", data.toString(), "--out", out.toString(), "--steps", String.valueOf(STEPS),
                "--save-every", String.valueOf(SAVE_EVERY), "--keep-checkpoints", "2", "--batch", "4", "--micro-batch", "2",
                "--seq-len", "48", "--rank", "4", "--lr", "1e-2", "--warmup-steps", "2", "--dropout", "0.1", "--seed", "11");
    }

    @Test
    void aRunKilledWithSigkillResumesToTheSameAdapter() throws Exception {
        Path data = writeData(tmp.resolve("data.jsonl"));
        Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
        CliRun reference = CliRun.of(trainArgs(data, straight));
        assertThat(reference.code()).as(reference.err()).isZero();

        long seed = System.nanoTime();
        int killAt = SAVE_EVERY + 1 + new Random(seed).nextInt(STEPS - SAVE_EVERY - 2);
        System.out.printf("kill at step %d of %d (seed %d)%n", killAt, STEPS, seed);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(trainArgs(data, killed));
        Process child = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("killed.log").toFile()).start();
        Path metrics = killed.resolve(TrainingRun.METRICS_FILE);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (child.isAlive() && lastStep(metrics) < killAt && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertThat(child.isAlive()).as("the child is still training at step %d: %s", lastStep(metrics),
                Files.exists(tmp.resolve("killed.log")) ? Files.readString(tmp.resolve("killed.log")) : "").isTrue();
        child.destroyForcibly();
        assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(137);
        long reached = lastStep(metrics);
        List<Path> checkpoints = new TrainCheckpoints(killed).list();
        System.out.printf("killed after step %d; complete checkpoints %s%n", reached, checkpoints);
        assertThat(reached).isBetween((long) killAt, (long) STEPS - 1);
        assertThat(checkpoints).isNotEmpty();
        assertThat(killed.resolve(AdapterFiles.WEIGHTS_FILE)).as("a killed run writes no adapter").doesNotExist();

        CliRun resumed = CliRun.of("train", "--resume", killed.toString());
        assertThat(resumed.code()).as(resumed.err()).isZero();
        try (Stream<Path> all = Files.walk(killed)) {
            assertThat(all.map(p -> p.getFileName().toString())).as("no temporary left by the killed writes")
                    .noneMatch(name -> name.contains(".tmp-"));
        }
        long from = TrainCheckpoints.stepOf(checkpoints.getLast());
        assertThat(from).isGreaterThanOrEqualTo(SAVE_EVERY).isLessThanOrEqualTo(reached);
        assertThat(resumed.err()).contains("resuming " + killed + " at step " + from + " of " + STEPS);

        Path resumedAdapter = killed.resolve(AdapterFiles.WEIGHTS_FILE);
        Path straightAdapter = straight.resolve(AdapterFiles.WEIGHTS_FILE);
        assertThat(Arrays.equals(Files.readAllBytes(resumedAdapter), Files.readAllBytes(straightAdapter)))
                .as("the resumed adapter is byte for byte the uninterrupted one; %s", difference(resumedAdapter, straightAdapter))
                .isTrue();
        assertThat(losses(killed)).isEqualTo(losses(straight));
    }

    /** Where two adapters differ: the tensor with the largest difference, and how many values differ in all. */
    private static String difference(Path a, Path b) {
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            double worst = 0;
            String where = "none";
            long differing = 0, total = 0;
            for (TensorInfo t : fa.tensors()) {
                float[] x = fa.readFloats(t.name()), y = fb.readFloats(t.name());
                for (int i = 0; i < x.length; i++) {
                    total++;
                    if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) {
                        differing++;
                        double d = Math.abs((double) x[i] - y[i]);
                        if (d > worst) {
                            worst = d;
                            where = t.name() + "[" + i + "] " + x[i] + " vs " + y[i];
                        }
                    }
                }
            }
            return differing + " of " + total + " values differ, the most at " + where + " (|diff| " + worst + ")";
        }
    }

    private static long lastStep(Path metrics) throws IOException {
        if (!Files.exists(metrics)) {
            return 0;
        }
        long step = 0;
        for (String line : Files.readAllLines(metrics)) {
            if (line.startsWith("{\"step\":") && line.endsWith("}") && line.contains("\"loss\"")) {
                step = Long.parseLong(line.substring("{\"step\":".length(), line.indexOf(',')));
            }
        }
        return step;
    }

    private static List<String> losses(Path run) throws IOException {
        return Files.readAllLines(run.resolve(TrainingRun.METRICS_FILE)).stream()
                .map(line -> line.replaceAll(".*\"loss\":([^,]*),.*", "$1")).toList();
    }

    private static Path writeData(Path file) throws IOException {
        String[] names = {"Pip", "Tom", "Sue", "Ben"};
        String[] things = {"a red lamp", "a small boat", "a blue kite", "a big shell"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            String n = names[i % names.length], t = things[(i / 2) % things.length];
            lines.add("{\"text\": \"Once upon a time, " + n + " found " + t + " by the sea. " + n
                    + " kept it safe every night.\"}");
        }
        Files.write(file, lines);
        return file;
    }
}
