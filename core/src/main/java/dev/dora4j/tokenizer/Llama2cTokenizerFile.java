package dev.dora4j.tokenizer;

import dev.dora4j.DoraException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The contents of a llama2.c {@code tokenizer.bin}: little-endian int32 {@code max_token_length}, then
 * for every token a float32 score, an int32 byte length and that many bytes. The file does not store
 * the token count; llama2.c takes it from the checkpoint, and without one the tokens run to the end of
 * the file.
 *
 * @param pieces the token bytes, one char per byte (ISO-8859-1), so that strings compare and concatenate
 *     as the byte strings they stand for
 * @param scores the merge score of each token
 * @param maxTokenLength the header's bound on a token's byte length
 */
record Llama2cTokenizerFile(String[] pieces, float[] scores, int maxTokenLength) {
    private static final int MAX_FILE_BYTES = Integer.MAX_VALUE - 8;

    /**
     * Reads {@code file}. With {@code expectedTokens >= 0} the file must hold exactly that many tokens;
     * with -1 it holds as many as there are up to its end.
     */
    static Llama2cTokenizerFile read(Path file, int expectedTokens) {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read llama2.c tokenizer: " + e.getMessage(), e);
        }
        if (size > MAX_FILE_BYTES) {
            throw new DoraException(file + ": " + size + " bytes is too large for a llama2.c tokenizer");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DoraException(file + ": cannot read llama2.c tokenizer: " + e.getMessage(), e);
        }
        return parse(file.toString(), bytes, expectedTokens);
    }

    static Llama2cTokenizerFile parse(String source, byte[] bytes, int expectedTokens) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < Integer.BYTES) {
            throw new DoraException(source + ": " + bytes.length
                    + " bytes is too short for a llama2.c tokenizer (no max_token_length header)");
        }
        int maxTokenLength = in.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > bytes.length) {
            throw new DoraException(source + ": max_token_length " + maxTokenLength
                    + " is not a valid length for a " + bytes.length + "-byte file");
        }
        int capacity = (bytes.length - Integer.BYTES) / (Float.BYTES + Integer.BYTES);
        if (expectedTokens > capacity) {
            throw new DoraException(source + ": " + bytes.length + " bytes cannot hold " + expectedTokens
                    + " tokens (at most " + capacity + ")");
        }
        int initial = expectedTokens >= 0 ? expectedTokens : Math.min(capacity, 1024);
        String[] pieces = new String[initial];
        float[] scores = new float[initial];
        int count = 0;
        while (expectedTokens < 0 ? in.hasRemaining() : count < expectedTokens) {
            if (in.remaining() < Float.BYTES + Integer.BYTES) {
                throw truncated(source, count, expectedTokens, "score and length");
            }
            float score = in.getFloat();
            int length = in.getInt();
            if (length < 0 || length > maxTokenLength) {
                throw new DoraException(source + ": token " + count + " has length " + length
                        + ", outside 0.." + maxTokenLength + " (max_token_length)");
            }
            if (in.remaining() < length) {
                throw truncated(source, count, expectedTokens, length + " bytes of text");
            }
            if (count == pieces.length) {
                pieces = Arrays.copyOf(pieces, Math.min(capacity, count * 2));
                scores = Arrays.copyOf(scores, pieces.length);
            }
            pieces[count] = new String(bytes, in.position(), length, StandardCharsets.ISO_8859_1);
            scores[count] = score;
            in.position(in.position() + length);
            count++;
        }
        if (in.hasRemaining()) {
            throw new DoraException(source + ": " + in.remaining() + " bytes left after the last of "
                    + expectedTokens + " tokens");
        }
        if (count == 0) {
            throw new DoraException(source + ": the llama2.c tokenizer holds no tokens");
        }
        return new Llama2cTokenizerFile(Arrays.copyOf(pieces, count), Arrays.copyOf(scores, count),
                maxTokenLength);
    }

    private static DoraException truncated(String source, int token, int expectedTokens, String what) {
        String of = expectedTokens >= 0 ? " of " + expectedTokens : "";
        return new DoraException(source + ": file ends inside token " + token + of + " (its " + what
                + " are missing)");
    }
}
