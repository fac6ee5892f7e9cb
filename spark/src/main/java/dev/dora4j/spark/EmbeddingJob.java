package dev.dora4j.spark;

import dev.dora4j.model.LinearStorage;
import java.io.Serializable;

/**
 * What a batch-embedding job computes: a BERT model directory (node-local on every executor), its tokenizer (null: the
 * model's), an optional PEFT adapter, the pooling and the texts per forward pass. {@code faultInPartition} is a drill
 * for tests: that partition's first attempt fails halfway through writing its file (-1: never).
 */
public record EmbeddingJob(String model, String tokenizer, String adapter, LinearStorage storage, String pooling, int batch,
        int faultInPartition)
        implements Serializable {
    public EmbeddingJob {
        if (!"mean".equals(pooling) && !"cls".equals(pooling)) throw new IllegalArgumentException("--pooling must be mean or cls, got " + pooling);
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
    }

    public EmbeddingJob withFaultInPartition(int partition) {
        return new EmbeddingJob(model, tokenizer, adapter, storage, pooling, batch, partition);
    }
}
