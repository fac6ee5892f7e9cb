package dev.dora4j.data;

/** One training or scoring record, in one of the JSON shapes dora4j reads. */
public sealed interface Record {
    /** Where the record came from: file and line (JSONL) or array index (JSON). */
    String source();

    /** {@code {"text": ...}}: every token is a target. */
    record Text(String source, String text) implements Record {}

    /** {@code {"prompt": ..., "completion": ...}}: only the completion's tokens are targets. */
    record PromptCompletion(String source, String prompt, String completion) implements Record {}

    /** {@code {"instruction", "input", "output"}}: the Alpaca template; only the response's tokens are targets. */
    record Alpaca(String source, String instruction, String input, String output) implements Record {}

    /** {@code {"input_ids": [...], "labels": [...]}}: labels default to the ids; -100 is ignored. */
    record Tokenized(String source, int[] inputIds, int[] labels) implements Record {}
}
