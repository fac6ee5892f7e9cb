package dev.dora4j.io;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * An ONNX model file and the {@code tokenizer.json} that goes with it. The model is either a {@code .onnx}
 * file, with its tokenizer named explicitly or found beside it as {@code <stem>-tokenizer.json} or
 * {@code tokenizer.json}, or a {@code .jar}/{@code .zip} archive holding exactly one {@code .onnx} entry and
 * its tokenizer under the same names. Archive entries are extracted to a temporary directory that
 * {@link #close()} deletes.
 */
public final class OnnxSource implements AutoCloseable {
    private final Path onnx;
    private final Path tokenizer;
    private final String origin;
    private final String lookedFor;
    private final Path tempDir;

    private OnnxSource(Path onnx, Path tokenizer, String origin, String lookedFor, Path tempDir) {
        this.onnx = onnx;
        this.tokenizer = tokenizer;
        this.origin = origin;
        this.lookedFor = lookedFor;
        this.tempDir = tempDir;
    }

    /**
     * Resolves {@code onnxOrArchive} and its tokenizer ({@code explicitTokenizer} when not null, which must
     * then exist).
     */
    public static OnnxSource open(Path onnxOrArchive, Path explicitTokenizer) {
        if (explicitTokenizer != null && !Files.isRegularFile(explicitTokenizer)) {
            throw new DoraException(explicitTokenizer + ": tokenizer file does not exist");
        }
        if (!Files.isRegularFile(onnxOrArchive)) {
            throw new DoraException(onnxOrArchive + ": ONNX file does not exist");
        }
        String name = onnxOrArchive.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jar") || name.endsWith(".zip")) {
            return fromArchive(onnxOrArchive, explicitTokenizer);
        }
        if (explicitTokenizer != null) {
            return new OnnxSource(onnxOrArchive, explicitTokenizer, onnxOrArchive.toString(), "", null);
        }
        Path dir = onnxOrArchive.toAbsolutePath().getParent();
        List<String> candidates = tokenizerNames(onnxOrArchive.getFileName().toString());
        for (String candidate : candidates) {
            if (Files.isRegularFile(dir.resolve(candidate))) {
                return new OnnxSource(onnxOrArchive, dir.resolve(candidate), onnxOrArchive.toString(), "", null);
            }
        }
        return new OnnxSource(onnxOrArchive, null, onnxOrArchive.toString(),
                String.join(" or ", candidates) + " beside it", null);
    }

    /** The ONNX file (a temporary copy when it came from an archive). */
    public Path onnx() {
        return onnx;
    }

    /** The tokenizer.json to use; a {@link DoraException} saying where it was looked for when there is none. */
    public Path tokenizer() {
        if (tokenizer == null) {
            throw new DoraException(origin + ": no tokenizer found (looked for " + lookedFor + "); name one with"
                    + " --tokenizer");
        }
        return tokenizer;
    }

    /** Where the model came from, for messages: the file, or {@code archive!/entry}. */
    public String origin() {
        return origin;
    }

    /**
     * {@code e} with the temporary copy's path replaced by {@link #origin()} (the archive and entry), since
     * the copy is gone once this source is closed; {@code e} itself when the model was not extracted.
     */
    public DoraException renamed(DoraException e) {
        if (tempDir == null || e.getMessage() == null || !e.getMessage().contains(onnx.toString())) return e;
        return new DoraException(e.getMessage().replace(onnx.toString(), origin), e);
    }

    @Override
    public void close() {
        deleteTree(tempDir);
    }

    /** {@code <stem>-tokenizer.json}, then {@code tokenizer.json}, for a model file named {@code <stem>.onnx}. */
    private static List<String> tokenizerNames(String onnxFileName) {
        String stem = onnxFileName.toLowerCase(Locale.ROOT).endsWith(".onnx")
                ? onnxFileName.substring(0, onnxFileName.length() - ".onnx".length())
                : onnxFileName;
        return List.of(stem + "-tokenizer.json", "tokenizer.json");
    }

    private static OnnxSource fromArchive(Path archive, Path explicitTokenizer) {
        Path temp = null;
        try (ZipFile zip = new ZipFile(archive.toFile())) {
            List<ZipEntry> models = new ArrayList<>();
            zip.stream().filter(e -> !e.isDirectory() && e.getName().toLowerCase(Locale.ROOT).endsWith(".onnx"))
                    .forEach(models::add);
            if (models.isEmpty()) {
                throw new DoraException(archive + ": the archive holds no .onnx file");
            }
            if (models.size() > 1) {
                throw new DoraException(archive + ": the archive holds " + models.size() + " .onnx files "
                        + models.stream().map(ZipEntry::getName).toList() + "; extract the one to convert");
            }
            ZipEntry model = models.getFirst();
            String entryDir = model.getName().contains("/")
                    ? model.getName().substring(0, model.getName().lastIndexOf('/') + 1) : "";
            String fileName = model.getName().substring(entryDir.length());
            String origin = archive + "!/" + model.getName();
            temp = Files.createTempDirectory("dora4j-onnx-");
            Path onnx = extract(zip, model, temp.resolve(safeName(fileName, "model.onnx")));
            if (explicitTokenizer != null) {
                return new OnnxSource(onnx, explicitTokenizer, origin, "", temp);
            }
            List<String> candidates = tokenizerNames(fileName);
            for (String candidate : candidates) {
                ZipEntry entry = zip.getEntry(entryDir + candidate);
                if (entry != null && !entry.isDirectory()) {
                    Path tokenizer = extract(zip, entry, temp.resolve(safeName(candidate, "tokenizer.json")));
                    return new OnnxSource(onnx, tokenizer, origin, "", temp);
                }
            }
            return new OnnxSource(onnx, null, origin, candidates.stream().map(c -> entryDir + c)
                    .reduce((a, b) -> a + " or " + b).orElseThrow() + " in the archive", temp);
        } catch (ZipException e) {
            deleteTree(temp);
            throw new DoraException(archive + ": not a readable jar/zip archive: " + e.getMessage(), e);
        } catch (IOException e) {
            deleteTree(temp);
            throw new DoraException(archive + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            deleteTree(temp);
            throw e;
        }
    }

    private static Path extract(ZipFile zip, ZipEntry entry, Path target) throws IOException {
        try (InputStream in = zip.getInputStream(entry)) {
            Files.copy(in, target);
        }
        return target;
    }

    /** An entry's file name when it is a plain one, else {@code fallback} (entry names never choose paths). */
    private static String safeName(String name, String fallback) {
        return name.isEmpty() || name.contains("/") || name.contains("\\") || name.startsWith(".") ? fallback : name;
    }

    private static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // Best effort: the temporary directory is the system's to clean up otherwise.
                }
            });
        } catch (IOException ignored) {
            // As above.
        }
    }
}
