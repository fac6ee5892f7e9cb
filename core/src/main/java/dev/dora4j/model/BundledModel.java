package dev.dora4j.model;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The small model that ships inside dora4j (stories260K, llama2.c format, with its tokenizer),
 * copied out of the jar once to a cache directory so loaders can read it as a file.
 */
public final class BundledModel {
    public static final String CHECKPOINT = "stories260K.bin";
    public static final String TOKENIZER = "tok512.bin";
    private static final String RESOURCE_DIR = "/dev/dora4j/models/stories260K/";

    private BundledModel() {}

    /** The checkpoint file; {@code tok512.bin} lies beside it. */
    public static Path checkpoint() {
        Path dir = cacheDir();
        for (String name : new String[] {CHECKPOINT, TOKENIZER, "LICENSE.llama2.c-MIT"}) {
            Path target = dir.resolve(name);
            try (InputStream in = BundledModel.class.getResourceAsStream(RESOURCE_DIR + name)) {
                if (in == null) throw new DoraException("the bundled model file " + name + " is missing from the dora4j jar");
                byte[] bytes = in.readAllBytes();
                if (Files.isRegularFile(target) && Arrays.equals(Files.readAllBytes(target), bytes)) continue;
                AtomicFiles.write(target, tmp -> Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW));
            } catch (IOException e) {
                throw new DoraException(target + ": cannot write the bundled model: " + e.getMessage(), e);
            }
        }
        return dir.resolve(CHECKPOINT);
    }

    private static Path cacheDir() {
        String base = System.getenv("XDG_CACHE_HOME");
        Path root = base != null && !base.isBlank() ? Path.of(base) : Path.of(System.getProperty("user.home"), ".cache");
        Path dir = root.resolve("dora4j").resolve("stories260K");
        if (Files.isDirectory(dir) || root.toFile().canWrite() || !Files.exists(root)) return dir;
        return Path.of(System.getProperty("java.io.tmpdir"), "dora4j-" + System.getProperty("user.name"), "stories260K");
    }
}
