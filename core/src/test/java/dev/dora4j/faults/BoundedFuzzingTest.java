package dev.dora4j.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Coverage-guided fuzzing of the four readers for a bounded time on every build. Jazzer's standalone driver
 * runs {@link ReaderFuzzer} in a child JVM, seeded with the committed corpus ({@code src/test/resources/fuzz/
 * <target>/}, each file behind its reader's selector byte), keeping what it finds interesting under
 * {@code target/fuzz/corpus/} and copying it, selector removed, to {@code target/fuzz/found/<target>/} (the
 * form in which it can be added to the committed corpus). Any exception other than a {@code DoraException},
 * an OutOfMemoryError in the child's 512 MB heap (an allocation that the input's real size does not bound)
 * or an input that runs for more than 10 s is a finding and fails the test; the input is saved under
 * {@code target/fuzz/findings/}.
 *
 * <p>The system property {@code dora4j.fuzz.seconds} sets the fuzzing time (default 48, at least 1). The test
 * prints the executions and executions per second, overall and per reader.
 */
class BoundedFuzzingTest {
    private static final long SECONDS = Math.max(1, Long.getLong("dora4j.fuzz.seconds", 48));
    private static final Pattern EXECUTIONS = Pattern.compile("stat::number_of_executed_units:\\s*(\\d+)");
    private static final Pattern PER_SECOND = Pattern.compile("stat::average_exec_per_sec:\\s*(\\d+)");
    private static final Pattern DONE = Pattern.compile("Done (\\d+) runs in (\\d+) second");

    @Test
    void readersSurviveBoundedFuzzing() throws Exception {
        Path work = Path.of("target", "fuzz").toAbsolutePath();
        Path corpus = Files.createDirectories(work.resolve("corpus"));
        Path findings = Files.createDirectories(work.resolve("findings"));
        Path seeds = prefixedSeeds(work.resolve("seeds"));
        Path scratch = Files.createTempDirectory(scratchRoot(), "dora4j-fuzz");
        Path log = work.resolve("fuzz.log");
        int before = count(corpus);

        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-XX:+EnableDynamicAgentLoading", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + scratch,
                "-cp", System.getProperty("java.class.path"),
                "com.code_intelligence.jazzer.Jazzer",
                "--target_class=" + ReaderFuzzer.class.getName(),
                "--instrumentation_includes=dev.dora4j.**",
                "--custom_hook_includes=dev.dora4j.**",
                "--disabled_hooks=" + ReadersFuzzTest.REGEX_INJECTION,
                "--reproducer_path=" + findings,
                "-artifact_prefix=" + findings + "/",
                "-max_total_time=" + SECONDS,
                "-timeout=10",
                "-rss_limit_mb=0",
                "-print_final_stats=1",
                corpus.toString(), seeds.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean finished;
        try {
            finished = process.waitFor(SECONDS + 180, TimeUnit.SECONDS);
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor();
            }
            deleteTree(scratch);
        }
        String output = Files.readString(log, StandardCharsets.ISO_8859_1);
        long executions = find(EXECUTIONS, output, 1);
        Matcher done = DONE.matcher(output);
        long ran = done.find() ? Long.parseLong(done.group(2)) : -1;
        System.out.printf("fuzzing: %d s, %d executions, %d executions/s (%s), corpus %d inputs (%d new); log %s%n",
                ran, executions, find(PER_SECOND, output, 1), perReader(output), count(corpus), count(corpus) - before,
                log);
        exportFound(corpus, work.resolve("found"));

        assertThat(finished).as("the fuzzer stopped within its time limit; log " + log).isTrue();
        assertThat(process.exitValue()).as("the fuzzer found nothing (findings under %s):%n%s", findings, tail(output))
                .isZero();
        assertThat(executions).as("executions; log " + log).isPositive();
    }

    /** The committed corpus of every reader, each file behind the byte that selects its reader. */
    private static Path prefixedSeeds(Path dir) throws IOException {
        if (Files.exists(dir)) {
            deleteTree(dir);
        }
        Files.createDirectories(dir);
        for (int target = 0; target < ReaderFuzzer.TARGETS.size(); target++) {
            String name = ReaderFuzzer.TARGETS.get(target);
            for (Path file : ReadersFuzzTest.corpusFiles(name)) {
                byte[] content = Files.readAllBytes(file);
                byte[] input = new byte[content.length + 1];
                input[0] = (byte) target;
                System.arraycopy(content, 0, input, 1, content.length);
                Files.write(dir.resolve(name + "-" + file.getFileName()), input);
            }
        }
        return dir;
    }

    /** The fuzzer's corpus in the committed form: per reader, without the selector byte. */
    private static void exportFound(Path corpus, Path found) throws IOException {
        try (Stream<Path> files = Files.list(corpus)) {
            for (Path file : files.sorted().toList()) {
                byte[] input = Files.readAllBytes(file);
                if (input.length == 0) {
                    continue;
                }
                Path dir = Files.createDirectories(found.resolve(ReaderFuzzer.TARGETS.get(ReaderFuzzer.selector(input[0]))));
                Files.write(dir.resolve(file.getFileName()), Arrays.copyOfRange(input, 1, input.length));
            }
        }
    }

    private static String perReader(String output) {
        return output.lines().filter(l -> l.startsWith(ReaderFuzzer.COUNTS_LINE))
                .map(l -> l.substring(ReaderFuzzer.COUNTS_LINE.length()).strip())
                .findFirst().orElse("no per-reader counts");
    }

    /** Inputs are written to files; a memory file system, where there is one, keeps that fast. */
    private static Path scratchRoot() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    private static long find(Pattern pattern, String output, int group) {
        Matcher m = pattern.matcher(output);
        return m.find() ? Long.parseLong(m.group(group)) : -1;
    }

    private static int count(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return (int) files.count();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String tail(String output) {
        List<String> lines = output.lines().filter(l -> !l.startsWith("INFO: Instrumented")).toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }
}
