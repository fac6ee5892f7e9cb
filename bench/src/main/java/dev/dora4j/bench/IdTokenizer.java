package dev.dora4j.bench;

import dev.dora4j.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.stream.Collectors;

/** A tokenizer for random-weight models: token i is the text " i"; no BOS or EOS, so generation runs to max_tokens. */
final class IdTokenizer implements Tokenizer {
    private final int vocab;

    IdTokenizer(int vocab) {
        this.vocab = vocab;
    }

    @Override
    public int[] encode(String text, boolean addBos, boolean addEos) {
        return text.isBlank() ? new int[0] : Arrays.stream(text.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();
    }

    @Override
    public String decode(int[] ids) {
        return Arrays.stream(ids).mapToObj(i -> " " + i).collect(Collectors.joining());
    }

    @Override
    public String decodeToken(int prevId, int id) {
        return " " + id;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int bosId() {
        return -1;
    }

    @Override
    public int eosId() {
        return -1;
    }

    @Override
    public boolean addBosByDefault() {
        return false;
    }

    @Override
    public String source() {
        return "token ids";
    }
}
