package dev.dora4j.tokenizer;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Finds and loads the tokenizer that goes with a model. */
public final class Tokenizers {
    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String TOKENIZER_BIN = "tokenizer.bin";
    static final String SENTENCEPIECE_MODEL = "tokenizer.model";

    private Tokenizers() {
    }

    /**
     * Loads {@code explicitTokenizer} when given ({@code .json}: Hugging Face, {@code .bin}: llama2.c);
     * otherwise, for a model directory, its {@code tokenizer.json} or else its {@code tokenizer.bin};
     * for a llama2.c checkpoint {@code X.bin}, the {@code tokenizer.bin} beside it or else the one
     * {@code tok*.bin} beside it; for any other model file, what its directory holds.
     */
    public static Tokenizer load(Path modelPathOrFile, Path explicitTokenizer) {
        if (explicitTokenizer != null) {
            if (Files.isDirectory(explicitTokenizer)) {
                return fromDirectory(explicitTokenizer, "");
            }
            if (!Files.isRegularFile(explicitTokenizer)) {
                throw new DoraException(explicitTokenizer + ": tokenizer file does not exist");
            }
            return fromFile(explicitTokenizer);
        }
        if (modelPathOrFile == null) {
            throw new DoraException("no model path and no tokenizer file given");
        }
        if (Files.isDirectory(modelPathOrFile)) {
            return fromDirectory(modelPathOrFile, "");
        }
        if (!Files.isRegularFile(modelPathOrFile)) {
            throw new DoraException(modelPathOrFile + ": model path does not exist");
        }
        Path dir = modelPathOrFile.toAbsolutePath().getParent();
        if (fileName(modelPathOrFile).endsWith(".bin")) {
            Path beside = dir.resolve(TOKENIZER_BIN);
            if (Files.isRegularFile(beside) && !isSameFile(beside, modelPathOrFile)) {
                return Llama2cTokenizer.load(beside);
            }
            List<Path> candidates = tokBinsBeside(modelPathOrFile);
            if (candidates.size() == 1) {
                return Llama2cTokenizer.load(candidates.getFirst());
            }
            if (candidates.size() > 1) {
                throw new DoraException(dir + ": several tokenizers beside " + fileName(modelPathOrFile) + " "
                        + candidates.stream().map(Tokenizers::fileName).toList()
                        + "; name the one to use explicitly");
            }
            return fromDirectory(dir, ", and tok*.bin beside "
                    + fileName(modelPathOrFile));
        }
        return fromDirectory(dir, "");
    }

    private static Tokenizer fromFile(Path file) {
        String name = fileName(file);
        if (name.endsWith(".json")) {
            return HfTokenizer.load(file);
        }
        if (name.endsWith(".bin")) {
            return Llama2cTokenizer.load(file);
        }
        if (name.endsWith(".model")) {
            throw sentencePieceNotSupported(file);
        }
        throw new DoraException(file + ": unknown tokenizer format (expected a Hugging Face .json or a"
                + " llama2.c .bin)");
    }

    private static Tokenizer fromDirectory(Path dir, String alsoLookedFor) {
        Path json = dir.resolve(TOKENIZER_JSON);
        if (Files.isRegularFile(json)) {
            return HfTokenizer.load(json);
        }
        Path bin = dir.resolve(TOKENIZER_BIN);
        if (Files.isRegularFile(bin)) {
            return Llama2cTokenizer.load(bin);
        }
        Path sentencePiece = dir.resolve(SENTENCEPIECE_MODEL);
        if (Files.isRegularFile(sentencePiece)) {
            throw sentencePieceNotSupported(sentencePiece);
        }
        throw new DoraException(dir + ": no tokenizer found (looked for " + TOKENIZER_JSON + " and "
                + TOKENIZER_BIN + alsoLookedFor + ")");
    }

    private static DoraException sentencePieceNotSupported(Path file) {
        return new DoraException(file + ": SentencePiece tokenizer.model is not supported yet; provide the"
                + " model's tokenizer.json (Hugging Face) instead");
    }

    private static List<Path> tokBinsBeside(Path checkpoint) {
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(checkpoint.toAbsolutePath().getParent(),
                "tok*.bin")) {
            for (Path file : files) {
                if (Files.isRegularFile(file) && !isSameFile(file, checkpoint)) {
                    found.add(file);
                }
            }
        } catch (IOException e) {
            throw new DoraException(checkpoint + ": cannot list the folder beside it: " + e.getMessage(), e);
        }
        found.sort(null);
        return found;
    }

    private static boolean isSameFile(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    private static String fileName(Path path) {
        Path name = path.getFileName();
        return name == null ? path.toString() : name.toString();
    }
}
