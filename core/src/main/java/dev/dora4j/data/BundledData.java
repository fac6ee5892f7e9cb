package dev.dora4j.data;

import dev.dora4j.io.BundledFiles;
import java.nio.file.Path;

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
        return BundledFiles.extract(RESOURCE_DIR, "lighthouse", name);
    }
}
