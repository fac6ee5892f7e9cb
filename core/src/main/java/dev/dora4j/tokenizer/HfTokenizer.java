package dev.dora4j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.dora4j.DoraException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, run by the tokenizers library through DJL's binding, offline
 * (see {@link DjlOffline}). The native tokenizer encodes without special tokens; BOS and EOS are added
 * here from {@link HfTokenizerSettings}, which for the usual single-sequence templates ({@code [CLS] A
 * [SEP]}, {@code <s> A}, {@code <|begin_of_text|> A}) gives what the post-processor would.
 */
public final class HfTokenizer implements Tokenizer {
    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "false",
            "truncation", "false",
            "padding", "false");

    private final String source;
    private final HuggingFaceTokenizer tokenizer;
    private final HfTokenizerSettings settings;
    private final int truncationMaxLength;

    private HfTokenizer(String source, HuggingFaceTokenizer tokenizer, HfTokenizerSettings settings,
            int truncationMaxLength) {
        this.source = source;
        this.tokenizer = tokenizer;
        this.settings = settings;
        this.truncationMaxLength = truncationMaxLength;
    }

    /** Loads {@code tokenizerJson}, with the {@code tokenizer_config.json} beside it if there is one. */
    public static HfTokenizer load(Path tokenizerJson) {
        String text = HfTokenizerSettings.readString(tokenizerJson);
        HfTokenizerSettings settings = HfTokenizerSettings.read(tokenizerJson, text);
        int truncationMaxLength = HfTokenizerSettings.truncationMaxLength(tokenizerJson, text);
        DjlOffline.apply();
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new DoraException(tokenizerJson + ": the tokenizers library cannot load it: "
                    + oneLine(e), e);
        } catch (UnsatisfiedLinkError e) {
            throw new DoraException(tokenizerJson + ": the native tokenizers library does not load on this"
                    + " platform: " + oneLine(e), e);
        }
        return new HfTokenizer(tokenizerJson.toString(), tokenizer, settings, truncationMaxLength);
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        boolean bos = addBos && settings.bosId() >= 0;
        boolean eos = addEos && settings.eosId() >= 0;
        int[] out = new int[ids.length + (bos ? 1 : 0) + (eos ? 1 : 0)];
        int n = 0;
        if (bos) {
            out[n++] = settings.bosId();
        }
        for (long id : ids) {
            out[n++] = Math.toIntExact(id);
        }
        if (eos) {
            out[n] = settings.eosId();
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= settings.vocabSize()) {
                throw new DoraException(source + ": token id " + ids[i] + " is outside the vocabulary of "
                        + settings.vocabSize());
            }
            wide[i] = ids[i];
        }
        String text = tokenizer.decode(wide, true);
        return settings.cleanUpSpaces() ? cleanUpTokenizationSpaces(text) : text;
    }

    /** The text that {@code id} adds after {@code prevId}: decode(prev, id) less decode(prev). */
    @Override
    public String decodeToken(int prevId, int id) {
        if (prevId < 0) {
            return decode(new int[] {id});
        }
        String before = decode(new int[] {prevId});
        String both = decode(new int[] {prevId, id});
        return both.startsWith(before) ? both.substring(before.length()) : decode(new int[] {id});
    }

    /** transformers' {@code clean_up_tokenization}: no space before punctuation and English contractions. */
    static String cleanUpTokenizationSpaces(String text) {
        return text.replace(" .", ".")
                .replace(" ?", "?")
                .replace(" !", "!")
                .replace(" ,", ",")
                .replace(" ' ", "'")
                .replace(" n't", "n't")
                .replace(" 'm", "'m")
                .replace(" 's", "'s")
                .replace(" 've", "'ve")
                .replace(" 're", "'re");
    }

    /**
     * The {@code truncation.max_length} of the tokenizer.json (special tokens included; 128 for
     * all-MiniLM-L6-v2), or -1 when it sets none. {@link #encode} itself never truncates.
     */
    public int truncationMaxLength() {
        return truncationMaxLength;
    }

    @Override
    public int vocabSize() {
        return settings.vocabSize();
    }

    @Override
    public int bosId() {
        return settings.bosId();
    }

    @Override
    public int eosId() {
        return settings.eosId();
    }

    @Override
    public boolean addBosByDefault() {
        return settings.addBos();
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    private static String oneLine(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return message.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }
}
