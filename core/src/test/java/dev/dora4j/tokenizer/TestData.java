package dev.dora4j.tokenizer;

import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** The project's shared test data ({@code ../shared/data} beside the project root). Missing data fails. */
final class TestData {
    private TestData() {
    }

    static Path root() {
        String configured = System.getProperty("dora4j.data");
        if (configured != null) {
            return existing(Path.of(configured));
        }
        Path dir = Path.of("").toAbsolutePath();
        for (int up = 0; up < 4 && dir != null; up++, dir = dir.getParent()) {
            Path candidate = dir.resolve("../shared/data").normalize();
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return fail("test data folder ../shared/data not found above " + Path.of("").toAbsolutePath()
                + " (set -Ddora4j.data=DIR)");
    }

    /** The file {@code relative} under the data folder; fails the test if it is not there. */
    static Path file(String relative) {
        return existing(root().resolve(relative));
    }

    private static Path existing(Path path) {
        if (!Files.exists(path)) {
            fail("test data missing: " + path.toAbsolutePath());
        }
        return path;
    }
}
