package dev.dora4j.tokenizer;

import dev.dora4j.DoraException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The tokenizer of llama2.c ({@code tokenizer.bin}), encoding and decoding as its {@code run.c} does:
 * a dummy-prefix space in front of non-empty text, one token per UTF-8 character where the vocabulary
 * has it and one byte token ({@code <0xXX>}, id = byte + 3) per byte where it has not, then greedy
 * merges by score. BOS is id 1 and EOS id 2. Where run.c reads a C string and stops at a NUL
 * character, this encodes it (as {@code <0x00>}), as SentencePiece does.
 */
public final class Llama2cTokenizer implements Tokenizer {
    static final int BOS = 1;
    static final int EOS = 2;
    private static final int BYTE_TOKEN_OFFSET = 3;

    private final String source;
    private final String[] pieces;
    private final byte[][] pieceBytes;
    private final boolean[] isByteToken;
    private final Map<String, Integer> idsByPiece;
    private final ScoredPairMerge merger;

    private Llama2cTokenizer(String source, Llama2cTokenizerFile file) {
        this.source = source;
        this.pieces = file.pieces();
        int n = pieces.length;
        if (n <= EOS) {
            throw new DoraException(source + ": " + n + " tokens are too few for a llama2.c tokenizer"
                    + " (ids 0..2 are <unk>, BOS and EOS)");
        }
        this.pieceBytes = new byte[n][];
        this.isByteToken = new boolean[n];
        this.idsByPiece = HashMap.newHashMap(n);
        for (int id = 0; id < n; id++) {
            idsByPiece.putIfAbsent(pieces[id], id);
            int value = byteTokenValue(pieces[id]);
            isByteToken[id] = value >= 0;
            pieceBytes[id] = isByteToken[id]
                    ? new byte[] {(byte) value}
                    : pieces[id].getBytes(StandardCharsets.ISO_8859_1);
        }
        this.merger = new ScoredPairMerge(pieces, file.scores(), idsByPiece);
    }

    /** Loads {@code file}, taking every token up to the end of the file. */
    public static Llama2cTokenizer load(Path file) {
        return new Llama2cTokenizer(file.toString(), Llama2cTokenizerFile.read(file, -1));
    }

    /** Loads {@code file}, which must hold exactly {@code vocabSize} tokens (the checkpoint's vocab size). */
    public static Llama2cTokenizer load(Path file, int vocabSize) {
        if (vocabSize <= 0) {
            throw new DoraException(file + ": vocab size " + vocabSize + " is not positive");
        }
        return new Llama2cTokenizer(file.toString(), Llama2cTokenizerFile.read(file, vocabSize));
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] symbols = new int[utf8.length + 1];
        int count = 0;
        if (utf8.length > 0) {
            Integer space = idsByPiece.get(" ");
            symbols[count++] = space != null ? space : byteToken(' ');
        }
        int start = 0;
        while (start < utf8.length) {
            int end = start + 1;
            while (end < utf8.length && end - start < 4 && (utf8[end] & 0xC0) == 0x80) {
                end++;
            }
            Integer id = idsByPiece.get(new String(utf8, start, end - start, StandardCharsets.ISO_8859_1));
            if (id != null) {
                symbols[count++] = id;
            } else {
                for (int i = start; i < end; i++) {
                    symbols[count++] = byteToken(utf8[i] & 0xFF);
                }
            }
            start = end;
        }
        int[] merged = merger.merge(symbols, count);
        int extra = (addBos ? 1 : 0) + (addEos ? 1 : 0);
        if (extra == 0) {
            return merged;
        }
        int[] out = new int[merged.length + extra];
        int n = 0;
        if (addBos) {
            out[n++] = BOS;
        }
        System.arraycopy(merged, 0, out, n, merged.length);
        if (addEos) {
            out[out.length - 1] = EOS;
        }
        return out;
    }

    private int byteToken(int value) {
        int id = value + BYTE_TOKEN_OFFSET;
        if (id >= pieces.length) {
            throw new DoraException(source + ": byte 0x" + Integer.toHexString(value)
                    + " has no byte-fallback token (id " + id + " is outside the vocabulary of "
                    + pieces.length + ")");
        }
        return id;
    }

    /**
     * Concatenates the tokens' bytes, leaving out BOS and EOS; a byte token gives its byte, and the
     * space that encoding puts in front of the text is dropped from the first text token.
     */
    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        boolean atStart = true;
        for (int id : ids) {
            checkId(id);
            if (id == BOS || id == EOS) {
                continue;
            }
            byte[] bytes = pieceBytes[id];
            int skip = atStart && startsWithSpace(id) ? 1 : 0;
            out.write(bytes, skip, bytes.length - skip);
            atStart = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** run.c's piece decoding: a leading space is dropped after BOS (and at the very start). */
    @Override
    public String decodeToken(int prevId, int id) {
        checkId(id);
        if (id == BOS || id == EOS) {
            return "";
        }
        byte[] bytes = pieceBytes[id];
        int skip = (prevId == BOS || prevId < 0) && startsWithSpace(id) ? 1 : 0;
        return new String(bytes, skip, bytes.length - skip, StandardCharsets.UTF_8);
    }

    private boolean startsWithSpace(int id) {
        return !isByteToken[id] && pieceBytes[id].length > 0 && pieceBytes[id][0] == ' ';
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new DoraException(source + ": token id " + id + " is outside the vocabulary of "
                    + pieces.length);
        }
    }

    /** The byte a {@code <0xXX>} token stands for, or -1 for any other piece. */
    private static int byteTokenValue(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') {
            return -1;
        }
        int high = Character.digit(piece.charAt(3), 16);
        int low = Character.digit(piece.charAt(4), 16);
        return high < 0 || low < 0 ? -1 : high * 16 + low;
    }

    /** The piece of {@code id} as text (a byte token as its {@code <0xXX>} name). */
    public String piece(int id) {
        checkId(id);
        return new String(pieces[id].getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public boolean addBosByDefault() {
        return true;
    }

    @Override
    public String source() {
        return source;
    }
}
