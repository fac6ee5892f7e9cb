package dev.dora4j.spark;

import dev.dora4j.model.LinearStorage;
import java.io.Serializable;

/**
 * What a batch-classification job computes: a BERT model directory (node-local on every executor), its tokenizer (null:
 * the model's), the trained classifier's adapter (null: the model directory's own head), the storage of the encoder's linear weights, the pooling (null: as trained),
 * and the texts per forward pass.
 */
public record ClassifyJob(String model, String tokenizer, String adapter, LinearStorage storage, String pooling, int batch)
        implements Serializable {
    public ClassifyJob {
        if (pooling != null && !"mean".equals(pooling) && !"cls".equals(pooling)) {
            throw new IllegalArgumentException("--pooling must be mean or cls, got " + pooling);
        }
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
    }
}
