package dev.dora4j.cli;

import dev.dora4j.data.Examples;

/** The warning on stderr that says how many records of a data file were cut to the sequence length. */
final class TruncationNote {
    private TruncationNote() {}

    /**
     * Prints, when any record was cut, {@code warning: FILE: N of M records truncated to --seq-len S} (or to the
     * model's context, when that was the shorter limit).
     */
    static void print(Object file, Examples.Prepared data, int seqLen, boolean modelContext) {
        if (data.truncated() == 0) return;
        String limit = modelContext ? "the model's context of " + seqLen + " tokens" : "--seq-len " + seqLen;
        String note = "warning: " + file + ": " + data.truncated() + " of " + data.records()
                + " records truncated to " + limit;
        if (data.truncatedWithoutTargets() > 0) {
            note += " (" + data.truncatedWithoutTargets() + " of them left with no target token)";
        }
        System.err.println(note);
    }
}
