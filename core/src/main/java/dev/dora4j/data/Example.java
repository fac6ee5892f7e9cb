package dev.dora4j.data;

/**
 * One tokenized sequence: the ids the model reads and, aligned with them, the labels it is scored
 * on (-100 = not a target). As in transformers, position t is trained to predict label t+1.
 */
public record Example(String source, int[] inputIds, int[] labels) {
    public Example {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException(source + ": " + inputIds.length + " ids but " + labels.length + " labels");
        }
    }

    public int length() {
        return inputIds.length;
    }

    /** The number of positions that predict a target: labels at 1..n-1 that are not -100. */
    public int targetCount() {
        int n = 0;
        for (int i = 1; i < labels.length; i++) if (labels[i] != -100) n++;
        return n;
    }
}
