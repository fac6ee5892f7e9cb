package dev.dora4j.faults;

import static org.junit.jupiter.api.Assumptions.abort;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * A small tmpfs mounted for a test, to run out of space for real. Mounting needs root and the right to mount
 * (a container may lack it); where it is refused the test is aborted (reported as skipped) with the reason,
 * and {@link CrashSafetyTest} covers the same paths by simulation.
 */
final class Tmpfs implements AutoCloseable {
    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    static Tmpfs mount(Path dir, String size) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        String output = run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString());
        if (output != null) {
            abort("cannot mount a tmpfs to fill (" + output.strip() + "); the full-disk paths are covered by"
                    + " simulation in CrashSafetyTest");
        }
        return new Tmpfs(dir);
    }

    Path dir() {
        return dir;
    }

    /** Fills the file system with {@code ballast} until a write fails, then frees {@code leaveBytes} of it. */
    void fill(Path ballast, long leaveBytes) throws IOException {
        byte[] chunk = new byte[4096];
        try (OutputStream out = Files.newOutputStream(ballast, StandardOpenOption.CREATE_NEW)) {
            while (true) {
                out.write(chunk);
            }
        } catch (IOException full) {
            if (!String.valueOf(full.getMessage()).contains("No space left on device")) {
                throw full;
            }
        }
        try (FileChannel channel = FileChannel.open(ballast, StandardOpenOption.WRITE)) {
            channel.truncate(Math.max(0, Files.size(ballast) - leaveBytes));
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        String output = run("umount", dir.toString());
        if (output != null) {
            throw new IOException("umount " + dir + ": " + output);
        }
    }

    /** Runs a command; null when it succeeds, else what it printed. */
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
