package dev.dora4j.serve;

/** What the engine tells the request handler of a sequence, in order: text deltas, then one end. */
sealed interface SequenceEvent {
    /** Newly generated text (possibly empty) and the token that completed it. */
    record Delta(String text, int token) implements SequenceEvent {}

    /** Generation ended: "stop" (EOS or a stop string) or "length" (max_tokens or the context). */
    record Done(String finishReason, int promptTokens, int completionTokens) implements SequenceEvent {}

    /** Generation failed; {@code status} is the HTTP status to answer with. */
    record Failed(int status, String type, String message) implements SequenceEvent {}
}
