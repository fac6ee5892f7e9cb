package dev.dora4j.generate;

import dev.dora4j.model.CausalLM;
import dev.dora4j.model.KvCache;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Autoregressive decoding with a KV cache: each step runs one token through the model's own layers against the
 * sequence's cached keys and values, so step t costs O(t) attention instead of a full recomputation. Linear layers
 * run as they are (merged, plain or with an unmerged adapter).
 */
public final class Generator {
    private final CausalLM model;
    private final KvCache cache;

    public Generator(CausalLM model, int capacity) {
        this.model = model;
        this.cache = model.newCache(capacity);
    }

    public int length() {
        return cache.length();
    }

    public int capacity() {
        return cache.capacity();
    }

    /** Runs {@code token} at the next position and returns the logits for the position after it. */
    public float[] step(int token) {
        if (cache.length() >= cache.capacity()) throw new IllegalStateException("context of " + cache.capacity() + " tokens is full");
        if (token < 0 || token >= model.vocabSize()) throw new IllegalArgumentException("token id " + token + " outside the vocabulary");
        return model.decode(new int[] {token}, cache);
    }

    /**
     * Feeds {@code prompt} and then samples up to {@code maxNew} tokens, stopping early after a
     * token for which {@code stop} is true (that token is included) or when the context is full.
     * Returns the generated ids only.
     */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, IntPredicate stop, TokenListener listener) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt needs at least one token (BOS)");
        float[] logits = null;
        for (int t : prompt) logits = step(t);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < maxNew; i++) {
            int next = sampler.sample(logits);
            out.add(next);
            if (listener != null) listener.accept(next);
            if (stop.test(next) || cache.length() >= cache.capacity()) break;
            logits = step(next);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Receives each token as it is generated. */
    @FunctionalInterface
    public interface TokenListener {
        void accept(int token);
    }
}
