package dev.dora4j.io;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Files that ship inside the dora4j jar (the default model, the default dataset), copied out once to
 * {@code $XDG_CACHE_HOME/dora4j} (else {@code ~/.cache/dora4j}, else the temp directory) so that
 * readers can open them as files. A copy is rewritten atomically when it differs from the jar's.
 */
public final class BundledFiles {
    private BundledFiles() {}

    /** The cached copy of resource {@code resourceDir + name}, under cache folder {@code folder}. */
    public static Path extract(String resourceDir, String folder, String name) {
        Path target = cacheDir(folder).resolve(name);
        try (InputStream in = BundledFiles.class.getResourceAsStream(resourceDir + name)) {
            if (in == null) throw new DoraException("the bundled file " + resourceDir + name + " is missing from the dora4j jar");
            byte[] bytes = in.readAllBytes();
            if (Files.isRegularFile(target) && Arrays.equals(Files.readAllBytes(target), bytes)) return target;
            AtomicFiles.write(target, tmp -> Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW));
            return target;
        } catch (IOException e) {
            throw new DoraException(target + ": cannot write the bundled file: " + e.getMessage(), e);
        }
    }

    private static Path cacheDir(String folder) {
        String base = System.getenv("XDG_CACHE_HOME");
        Path root = base != null && !base.isBlank() ? Path.of(base) : Path.of(System.getProperty("user.home"), ".cache");
        Path dir = root.resolve("dora4j").resolve(folder);
        if (Files.isDirectory(dir) || root.toFile().canWrite() || !Files.exists(root)) return dir;
        return Path.of(System.getProperty("java.io.tmpdir"), "dora4j-" + System.getProperty("user.name"), folder);
    }
}
