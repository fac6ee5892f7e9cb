package dev.dora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line on a full disk (a 1 MB tmpfs filled with ballast; skipped where the machine refuses the
 * mount): a merge that cannot be written leaves the previous output directory exactly as it was, and says in
 * one line that the disk is full and the previous content unchanged.
 */
class DiskFullCliTest {
    private static final Path FIXTURES = Path.of("../core/src/test/resources/fixtures/merge");

    @TempDir
    Path tmp;

    @Test
    void aMergeOnAFullDiskKeepsThePreviousOutputAndSaysSo() throws Exception {
        Path disk = Files.createDirectories(tmp.resolve("disk"));
        String refused = run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk.toString());
        if (refused != null) {
            abort("cannot mount a tmpfs (" + refused.strip() + "); core's CrashSafetyTest simulates the full disk");
        }
        try {
            Path out = disk.resolve("merged");
            String[] merge = {"merge", "--model", FIXTURES.resolve("model").toString(), "--adapter",
                FIXTURES.resolve("adapter").toString(), "--out", out.toString()};
            assertThat(CliRun.of(merge).code()).isZero();
            Map<String, String> before = contents(out);
            fill(disk.resolve("ballast"), 8192);

            CliRun full = CliRun.of(merge);
            assertThat(full.code()).isEqualTo(1);
            assertThat(full.err().strip().lines()).hasSize(1);
            assertThat(full.err().strip()).isEqualTo("error: " + out.resolve("model.safetensors")
                    + ": cannot write: disk full (IOException: No space left on device); any previous content is unchanged");
            assertThat(contents(out)).as("the previous output is intact").isEqualTo(before);
            try (Stream<Path> left = Files.list(disk)) {
                assertThat(left.map(p -> p.getFileName().toString()).sorted()).containsExactly("ballast", "merged");
            }
        } finally {
            String failed = run("umount", disk.toString());
            assertThat(failed).as("umount").isNull();
        }
    }

    private static void fill(Path ballast, long leaveBytes) throws IOException {
        byte[] chunk = new byte[4096];
        try (OutputStream out = Files.newOutputStream(ballast, StandardOpenOption.CREATE_NEW)) {
            while (true) {
                out.write(chunk);
            }
        } catch (IOException full) {
            assertThat(full.getMessage()).contains("No space left on device");
        }
        try (FileChannel channel = FileChannel.open(ballast, StandardOpenOption.WRITE)) {
            channel.truncate(Files.size(ballast) - leaveBytes);
        }
    }

    private static Map<String, String> contents(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.put(dir.relativize(f).toString(), Base64.getEncoder().encodeToString(Files.readAllBytes(f)));
            }
        }
        return out;
    }

    /** Runs a command; null when it succeeds, else why not. */
    private static String run(String... command) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return e.getMessage();
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out";
        }
        return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + output;
    }
}
