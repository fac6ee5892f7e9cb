package dev.dora4j.data;

import dev.dora4j.DoraException;
import dev.dora4j.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The small dataset that ships with dora4j for its default fine-tuning run: original short stories
 * about Pip, a lighthouse robot ({@code train.jsonl}, {@code eval.jsonl}), copied out of the jar to
 * a cache directory on first use.
 */
public final class BundledData {
    private static final String RESOURCE_DIR = "/dev/dora4j/data/lighthouse/";

    private BundledData() {}

    public static Path train() {
        return extract("train.jsonl");
    }

    public static Path eval() {
        return extract("eval.jsonl");
    }

    private static Path extract(String name) {
        String base = System.getenv("XDG_CACHE_HOME");
        Path root = base != null && !base.isBlank() ? Path.of(base) : Path.of(System.getProperty("user.home"), ".cache");
        Path target = root.resolve("dora4j").resolve("lighthouse").resolve(name);
        try (InputStream in = BundledData.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) throw new DoraException("the bundled dataset file " + name + " is missing from the dora4j jar");
            byte[] bytes = in.readAllBytes();
            if (Files.isRegularFile(target) && Arrays.equals(Files.readAllBytes(target), bytes)) return target;
            AtomicFiles.write(target, tmp -> Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW));
            return target;
        } catch (IOException e) {
            throw new DoraException(target + ": cannot write the bundled dataset: " + e.getMessage(), e);
        }
    }
}
