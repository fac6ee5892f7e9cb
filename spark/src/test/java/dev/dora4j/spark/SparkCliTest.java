package dev.dora4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dora4j.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's --spark paths: bad input ends in one line and leaves nothing at --out. */
class SparkCliTest {
    record Run(int exit, String stderr) {}

    static Run run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return new Run(Main.execute(args), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void moreWorkersThanSlotsIsOneLineAndNoOutput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Run r = run("train", "--spark", "local[2]", "--workers", "3", "--model", SparkTestRuns.stories260K().toString(), "--data",
                SparkTestRuns.stories(tmp).toString(), "--out", out.toString(), "--steps", "2", "--batch", "4");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.stderr().strip()).isEqualTo("error: --workers 3 needs 3 task slots at once, but local[2,4] offers 2");
        assertThat(out).doesNotExist();
    }

    @Test
    void anUnreachableMasterIsOneLineAndNoOutput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Run r = run("train", "--spark", "spark://127.0.0.1:1", "--workers", "2", "--model", SparkTestRuns.stories260K().toString(),
                "--data", SparkTestRuns.stories(tmp).toString(), "--out", out.toString(), "--steps", "2", "--batch", "4");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.stderr().strip()).startsWith("error: cannot reach the Spark master at spark://127.0.0.1:1 (").doesNotContain("\n");
        assertThat(out).doesNotExist();
    }

    @Test
    void embedOnSparkNeedsDataAndOut() {
        Run r = run("embed", "--spark", "local[2]", "--model", "/nonexistent");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.stderr().strip()).isEqualTo("error: --spark needs --data FILE and --out DIR");
    }

    @Test
    void classifyOnSparkNeedsOutAndTheClassifyTask() {
        Run noOut = run("eval", "--task", "classify", "--spark", "local[2]", "--model", "/nonexistent", "--data", "/nonexistent.csv");
        assertThat(noOut.exit()).isEqualTo(1);
        assertThat(noOut.stderr().strip()).isEqualTo("error: --spark needs --model DIR, --data FILE and --out DIR");
        Run causal = run("eval", "--spark", "local[2]", "--model", "/nonexistent", "--data", "/nonexistent.jsonl");
        assertThat(causal.exit()).isEqualTo(1);
        assertThat(causal.stderr().strip()).isEqualTo("error: --spark needs --task classify");
    }
}
