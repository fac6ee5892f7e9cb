package dev.dora4j.model;

import dev.dora4j.io.BundledFiles;
import java.nio.file.Path;

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
        for (String name : new String[] {TOKENIZER, "LICENSE.llama2.c-MIT"}) BundledFiles.extract(RESOURCE_DIR, "stories260K", name);
        return BundledFiles.extract(RESOURCE_DIR, "stories260K", CHECKPOINT);
    }
}
