package dev.dora4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Recognises PyTorch checkpoints ({@code .bin}, {@code .pt}, {@code .pth}): a zip archive holding a pickle
 * (torch.save since 1.6) or a bare pickle (older releases). dora4j never loads them, because unpickling
 * runs code named by the file; the loaders use this to say so instead of misreading the bytes.
 */
public final class PickleFormat {
    /** What to do instead, for error messages. */
    public static final String ADVICE = "PyTorch pickle checkpoints are never loaded (unpickling can run code);"
            + " convert the model to safetensors (save_pretrained(..., safe_serialization=True))";

    private PickleFormat() {
    }

    /**
     * True when {@code head} (the first bytes of a file) starts a zip archive ({@code PK\3\4}) or a pickle of
     * protocol 2 to 5 ({@code 0x80, protocol}) whose next byte is an opcode rather than zero.
     */
    public static boolean looksLikePickle(byte[] head) {
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return true;
        }
        return head.length >= 3 && (head[0] & 0xFF) == 0x80 && head[1] >= 2 && head[1] <= 5 && head[2] != 0;
    }

    /** {@link #looksLikePickle(byte[])} for the start of {@code file}; false when it cannot be read. */
    public static boolean looksLikePickle(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return looksLikePickle(in.readNBytes(4));
        } catch (IOException e) {
            return false;
        }
    }
}
