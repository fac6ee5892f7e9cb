package dev.dora4j.eval;

/** A held-out score: the language-model loss and perplexity, or classification accuracy and F1. */
public sealed interface Score permits Evaluator.Result, ClassificationMetrics {
    /** The mean loss over the held-out targets (tokens, or examples). */
    double loss();
}
