package dev.dora4j.testing;

import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** The project's shared data folder ({@code ../shared/data} from the repository root). Missing files fail the test. */
public final class SharedData {
    private SharedData() {}

    public static Path file(String relative) {
        Path root = Path.of(System.getProperty("user.dir"));
        for (Path dir = root; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("../shared/data").resolve(relative).normalize();
            if (Files.exists(candidate)) return candidate;
        }
        fail("shared data file missing: ../shared/data/" + relative + " (searched upwards from " + root + ")");
        return null;
    }
}
