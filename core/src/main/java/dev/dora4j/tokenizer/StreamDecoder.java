package dev.dora4j.tokenizer;

import java.util.Arrays;

/**
 * Incremental decoding of generated ids. Each call to {@link #next(int)} returns the text that the new
 * id completes: a character split over several byte tokens appears once all its bytes have arrived, and
 * a word-initial space that the tokenizer strips at the start of a sequence is kept mid-sequence.
 *
 * <p>The text of the new ids is the difference between the decoding of a short window that ends with
 * them and the decoding of the same window without them, so every step costs a few tokens of work.
 */
public final class StreamDecoder {
    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private int[] ids = new int[16];
    private int count;
    private int prefixOffset;
    private int readOffset;

    StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds {@code id}; returns the text that is now complete (possibly empty). */
    public String next(int id) {
        if (count == ids.length) {
            makeRoom();
        }
        ids[count++] = id;
        String prefixText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String newText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, count));
        if (newText.length() > prefixText.length() && newText.charAt(newText.length() - 1) != REPLACEMENT) {
            prefixOffset = readOffset;
            readOffset = count;
            return newText.substring(prefixText.length());
        }
        return "";
    }

    private void makeRoom() {
        if (prefixOffset > 0) {
            System.arraycopy(ids, prefixOffset, ids, 0, count - prefixOffset);
            count -= prefixOffset;
            readOffset -= prefixOffset;
            prefixOffset = 0;
        }
        if (count == ids.length) {
            ids = Arrays.copyOf(ids, count * 2);
        }
    }

    /** Returns whatever is still held back (incomplete characters come out as U+FFFD). */
    public String flush() {
        String prefixText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String newText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, count));
        prefixOffset = readOffset;
        readOffset = count;
        return newText.length() > prefixText.length() ? newText.substring(prefixText.length()) : "";
    }
}
