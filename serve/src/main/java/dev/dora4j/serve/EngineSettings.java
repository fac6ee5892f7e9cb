package dev.dora4j.serve;

import java.time.Duration;

/**
 * The engine's bounds: tokens per step (decode rows plus prefill chunks), sequences running at once, requests
 * waiting, bytes of KV cache over all running sequences, and how long a request may take.
 */
public record EngineSettings(int maxBatchTokens, int maxSequences, int maxQueue, long kvCacheBytes, Duration requestTimeout) {
    public EngineSettings {
        if (maxBatchTokens < 1) throw new IllegalArgumentException("--max-batch-tokens must be >= 1, got " + maxBatchTokens);
        if (maxSequences < 1) throw new IllegalArgumentException("--max-sequences must be >= 1, got " + maxSequences);
        if (maxQueue < 0) throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        if (kvCacheBytes < 1) throw new IllegalArgumentException("--kv-cache-mb must be >= 1");
        if (requestTimeout.isNegative() || requestTimeout.isZero()) throw new IllegalArgumentException("--request-timeout must be positive");
    }

    public static EngineSettings defaults() {
        return new EngineSettings(512, 64, 256, 1L << 30, Duration.ofMinutes(5));
    }
}
