package dev.dora4j.data;

/** One tokenized classification example: the ids the encoder reads ([CLS] … [SEP]) and the class index. */
public record ClassificationExample(String source, int[] inputIds, int label) {
    public int length() {
        return inputIds.length;
    }
}
